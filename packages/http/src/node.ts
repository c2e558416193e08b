/**
 * `@openpipes/http/node`: the handler as a node:http request listener, and the limits a node:http
 * server facing the internet needs (`hardenServer`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OpenPipesHandler } from './handler.js';
import { answerNode, failResponse, requestPath } from './node-bridge.js';

export { hardenServer, type ServerLimits, serverLimitDefaults } from './server-limits.js';

export interface NodeListenerOptions {
  /** The prefix this listener is reached under (overrides the handler's `basePath`). */
  basePath?: string;
  /**
   * Called for requests that are not OpenPipes routes, so the listener can share a server with
   * other routes. Without it they answer 404 in OpenPipes' error format. If it throws, the request
   * is answered 500 (or its connection closed, if the answer had begun).
   */
  fallback?: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * A node:http request listener that serves the handler. Every request node's parser accepts gets
 * an answer, whatever its method or target; nothing a request does can throw out of the listener.
 * Pair it with {@link hardenServer} on the server it listens on.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createHandler } from '@openpipes/http';
 * import { hardenServer, createNodeListener } from '@openpipes/http/node';
 *
 * hardenServer(createServer(createNodeListener(createHandler(pipes, { apiKeys })))).listen(8080);
 * ```
 */
export function createNodeListener(
  handler: OpenPipesHandler,
  options: NodeListenerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const context = options.basePath === undefined ? undefined : { basePath: options.basePath };
  return (req, res) => {
    if (options.fallback && !handler.matches(requestPath(req.url), context)) {
      try {
        options.fallback(req, res);
      } catch (err) {
        failResponse(res, err);
      }
      return;
    }
    answerNode(handler, req, res, { basePath: options.basePath }).catch((err: unknown) =>
      failResponse(res, err),
    );
  };
}
