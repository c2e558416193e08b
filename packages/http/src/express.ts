/**
 * `@openpipes/http/express`: the handler as Express 5 middleware. Mount it under any prefix;
 * requests that are not OpenPipes routes go on to the next middleware.
 */
import type { Request as ExpressRequest, Response as ExpressResponse, NextFunction } from 'express';
import type { OpenPipesHandler } from './handler.js';
import { answerNode, failResponse, requestPath } from './node-bridge.js';

/**
 * Express middleware serving the handler. Mount it before body parsers such as `express.json()`
 * (the collect endpoint needs the raw body: size limits, text/plain beacons, HMAC signatures);
 * after one, it falls back to the parsed body. Every method and target node's parser accepts is
 * answered here (TRACE and other methods no route takes: 405 or 404); errors never reach `next`.
 * Serve the app with `hardenServer(createServer(app))` from `@openpipes/http/node` rather than
 * `app.listen()`, for timeouts and connection caps.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import express from 'express';
 * import { createHandler } from '@openpipes/http';
 * import { createExpressMiddleware } from '@openpipes/http/express';
 * import { hardenServer } from '@openpipes/http/node';
 *
 * const app = express();
 * app.use('/openpipes', createExpressMiddleware(createHandler(pipes, { apiKeys })));
 * hardenServer(createServer(app)).listen(8080);
 * ```
 */
export function createExpressMiddleware(
  handler: OpenPipesHandler,
): (req: ExpressRequest, res: ExpressResponse, next: NextFunction) => void {
  return (req, res, next) => {
    // Express strips the mount path from req.url; the handler sees the full URL and the prefix.
    const basePath = req.baseUrl;
    if (!handler.matches(requestPath(req.originalUrl), { basePath })) {
      next();
      return;
    }
    answerNode(handler, req, res, { url: req.originalUrl, parsedBody: req.body, basePath }).catch(
      (err: unknown) => failResponse(res, err),
    );
  };
}
