/**
 * The answer to a failed request, the same on the fetch path and the direct path: the error in
 * OpenPipes' format (an INTERNAL one names the request id, never its cause), the headers it
 * implies (CORS decided before the failure, `WWW-Authenticate`, `Allow`), sensitive values scrubbed,
 * and one log line.
 */
import { httpStatusForCode, type Logger, type PipesError, toPipesError } from '@openpipes/core';
import type { DirectAnswer } from './direct.js';
import type { Route } from './route.js';
import { CollectError } from './routes/collect.js';
import { scrub } from './scrub.js';

/**
 * The answer to a request that failed (the route's refusal, or anything it threw), logged as the
 * client's doing (4xx, or 499 when it went away) or ours (5xx). Both paths answer failures here.
 */
export function failureAnswer(
  logger: Logger,
  err: unknown,
  info: {
    requestId: string;
    method: string;
    pathname: string;
    route: Route | undefined;
    clientLeft: boolean;
    sensitive: string[];
  },
): { code: string; answer: DirectAnswer } {
  const { requestId, sensitive } = info;
  const collect = err instanceof CollectError;
  const error = collect ? err.error : toPipesError(err);
  const headers: Record<string, string> = collect ? { ...err.headers } : {};
  const status = httpStatusForCode(error.code);
  if (error.code === 'UNAUTHORIZED')
    headers['www-authenticate'] = challenge(error, info.route?.access === 'collect');
  if (error.code === 'METHOD_NOT_ALLOWED') {
    headers.allow = ((error.details as { allowed: string[] }).allowed ?? []).join(', ');
  }
  const payload = {
    error:
      error.code === 'INTERNAL'
        ? {
            code: error.code,
            message: `internal error; the server log has it under request id ${requestId}`,
          }
        : error.toJSON(),
  };
  const fields = {
    request_id: requestId,
    method: info.method,
    path: info.pathname,
    status,
    code: error.code,
    error: scrub(error.message, sensitive),
  };
  if (info.clientLeft) {
    // The client went away mid-request (its body stopped half way): its doing, not ours. The
    // answer below reaches nobody; the log says what happened, in nginx's 499 wording.
    logger.debug('OpenPipes HTTP request abandoned: the client closed the connection', {
      ...fields,
      status: 499,
      code: 'CLIENT_CLOSED',
    });
  } else if (status >= 500) logger.error('OpenPipes HTTP request failed', fields);
  else logger.debug('OpenPipes HTTP request refused', fields);
  return {
    code: error.code,
    answer: {
      status,
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      body: scrub(JSON.stringify(payload), sensitive),
    },
  };
}

function challenge(error: PipesError, collect: boolean): string {
  const details = (error.details ?? {}) as { auth?: string; reason?: string };
  if (collect) {
    return details.auth === 'hmac'
      ? 'OpenPipes-HMAC-SHA256 realm="openpipes-collect"'
      : 'Bearer realm="openpipes-collect"';
  }
  return details.reason === 'invalid_token'
    ? 'Bearer realm="openpipes", error="invalid_token"'
    : 'Bearer realm="openpipes"';
}
