/**
 * `@openpipes/http/fastify`: the handler as a Fastify 5 plugin. Register it with a prefix; inside
 * its own encapsulated context it turns off Fastify's body parsing so the handler reads the raw
 * body (size limits, text/plain beacons, HMAC signatures), without changing the host app's parsers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OpenPipesHandler } from './handler.js';
import { callHandler, copyHeaders } from './node-bridge.js';

/**
 * A Fastify plugin serving the handler. Every method Fastify routes reaches the handler (TRACE and
 * others no route takes: 405 or 404); under a prefix, so do the methods Fastify does not route
 * (PROPFIND, SEARCH, ...), through the prefix's not-found handler. Give Fastify its timeouts and
 * connection caps: see docs/security.md (`serverFactory` with `hardenServer`).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { createHandler } from '@openpipes/http';
 * import { createFastifyPlugin } from '@openpipes/http/fastify';
 *
 * const app = Fastify();
 * await app.register(createFastifyPlugin(createHandler(pipes, { apiKeys })), { prefix: '/openpipes' });
 * await app.listen({ port: 8080 });
 * ```
 */
export function createFastifyPlugin(handler: OpenPipesHandler): (fastify: FastifyInstance) => Promise<void> {
  return async (fastify) => {
    fastify.removeAllContentTypeParsers();
    // Leave every body unread: the handler streams it with its own limits.
    fastify.addContentTypeParser('*', (_request, _payload, done) => done(null));
    const basePath = fastify.prefix;
    const route = async (request: FastifyRequest, reply: FastifyReply) => {
      const response = await callHandler(handler, request.raw, reply.raw, { url: request.raw.url, basePath });
      reply.code(response.status);
      copyHeaders(response.headers, (key, value) => reply.header(key, value));
      return reply.send(Buffer.from(await response.arrayBuffer()));
    };
    fastify.all('/', route);
    fastify.all('/*', route);
    // Methods outside Fastify's list (WebDAV's and the like) find no route and end in the
    // not-found handler of the prefix they were sent under: answer them too. At the root that
    // handler is the host application's, so it is left alone there.
    if (basePath !== '') fastify.setNotFoundHandler(route);
  };
}
