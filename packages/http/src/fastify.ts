/**
 * `@openpipes/http/fastify`: the handler as a Fastify 5 plugin. Register it with a prefix; inside
 * its own encapsulated context it turns off Fastify's body parsing so the handler reads the raw
 * body (size limits, text/plain beacons, HMAC signatures), without changing the host app's parsers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OpenPipesHandler } from './handler.js';
import { toFetchRequest } from './node-bridge.js';

/**
 * A Fastify plugin serving the handler.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { createHandler } from '@openpipes/http';
 * import { openPipesFastify } from '@openpipes/http/fastify';
 *
 * const app = Fastify();
 * await app.register(openPipesFastify(createHandler(pipes, { apiKeys })), { prefix: '/openpipes' });
 * await app.listen({ port: 8080 });
 * ```
 */
export function openPipesFastify(handler: OpenPipesHandler): (fastify: FastifyInstance) => Promise<void> {
  return async (fastify) => {
    fastify.removeAllContentTypeParsers();
    // Leave every body unread: the handler streams it with its own limits.
    fastify.addContentTypeParser('*', (_request, _payload, done) => done(null));
    const context = { basePath: fastify.prefix };
    const route = async (request: FastifyRequest, reply: FastifyReply) => {
      const response = await handler(toFetchRequest(request.raw, request.raw.url), context);
      reply.code(response.status);
      response.headers.forEach((value, key) => {
        reply.header(key, value);
      });
      return reply.send(Buffer.from(await response.arrayBuffer()));
    };
    fastify.all('/', route);
    fastify.all('/*', route);
  };
}
