/**
 * `@openpipes/http/node`: the handler as a node:http request listener.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OpenPipesHandler } from './handler.js';
import { toFetchRequest, writeFetchResponse } from './node-bridge.js';

export interface NodeListenerOptions {
  /** The prefix this listener is reached under (overrides the handler's `basePath`). */
  basePath?: string;
  /**
   * Called for requests that are not OpenPipes routes, so the listener can share a server with
   * other routes. Without it they answer 404 in OpenPipes' error format.
   */
  fallback?: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * A node:http request listener that serves the handler.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createHandler } from '@openpipes/http';
 * import { toNodeListener } from '@openpipes/http/node';
 *
 * createServer(toNodeListener(createHandler(pipes, { apiKeys }))).listen(8080);
 * ```
 */
export function toNodeListener(
  handler: OpenPipesHandler,
  options: NodeListenerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const context = options.basePath === undefined ? undefined : { basePath: options.basePath };
  return (req, res) => {
    const pathname = (req.url ?? '/').split('?')[0]!;
    if (options.fallback && !handler.matches(pathname, context)) {
      options.fallback(req, res);
      return;
    }
    handler(toFetchRequest(req), context)
      .then((response) => writeFetchResponse(res, response))
      .catch((err: unknown) => {
        // The handler answers every error itself; this is a failure to write the answer.
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'INTERNAL', message: String(err) } }));
      });
  };
}
