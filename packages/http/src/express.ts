/**
 * `@openpipes/http/express`: the handler as Express 5 middleware. Mount it under any prefix;
 * requests that are not OpenPipes routes go on to the next middleware.
 */
import type { Request as ExpressRequest, Response as ExpressResponse, NextFunction } from 'express';
import type { OpenPipesHandler } from './handler.js';
import { toFetchRequest, writeFetchResponse } from './node-bridge.js';

/**
 * Express middleware serving the handler. Mount it before body parsers such as `express.json()`
 * (the collect endpoint needs the raw body: size limits, text/plain beacons, HMAC signatures);
 * after one, it falls back to the parsed body.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createHandler } from '@openpipes/http';
 * import { openPipesExpress } from '@openpipes/http/express';
 *
 * const app = express();
 * app.use('/openpipes', openPipesExpress(createHandler(pipes, { apiKeys })));
 * app.listen(8080);
 * ```
 */
export function openPipesExpress(
  handler: OpenPipesHandler,
): (req: ExpressRequest, res: ExpressResponse, next: NextFunction) => void {
  return (req, res, next) => {
    // Express strips the mount path from req.url; the handler sees the full URL and the prefix.
    const context = { basePath: req.baseUrl };
    const pathname = req.originalUrl.split('?')[0]!;
    if (!handler.matches(pathname, context)) {
      next();
      return;
    }
    handler(toFetchRequest(req, req.originalUrl, req.body), context)
      .then((response) => writeFetchResponse(res, response))
      .catch(next);
  };
}
