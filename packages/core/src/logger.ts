/**
 * The engine's logger. Pass your own as `createPipes({ logger })` (and `createHandler(pipes,
 * { logger })`): pino as it is, or anything with pino's signature `logger.info(fields, message)`.
 * Winston and `console`, whose signature is string-first (`logger.info(message, fields)`), are
 * recognised and called that way. The default writes warnings and errors to stderr as JSON lines.
 * Log fields never carry secret values: the engine only logs ids, counts, codes and redacted
 * messages.
 */

/** Structured fields of one log line. */
export type LogFields = Record<string, unknown>;

/**
 * What a logger must offer: pino's signature, `(fields, message)`.
 *
 * The engine calls the logger you pass through {@link adaptLogger}, which also accepts the
 * string-first form `(message, fields)` from callers and calls winston and `console` string-first,
 * so either kind of logger fits. A logger of your own takes `(fields, message)`; `message` may be
 * absent (pino allows a bare object).
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const pipes = createPipes({ store, secretKey, logger: pino() });
 * // or your own:
 * const logger: Logger = {
 *   debug() {}, info() {},
 *   warn: (fields, message) => myLog('warn', message, fields),
 *   error: (fields, message) => myLog('error', message, fields),
 * };
 * ```
 */
export interface Logger {
  debug(fields: LogFields | string, message?: string | LogFields): void;
  info(fields: LogFields | string, message?: string | LogFields): void;
  warn(fields: LogFields | string, message?: string | LogFields): void;
  error(fields: LogFields | string, message?: string | LogFields): void;
}

type Level = keyof Logger;
const levels: Level[] = ['debug', 'info', 'warn', 'error'];
const adapted = Symbol('openpipes.adaptedLogger');

/**
 * The one place that decides how a host's logger is called. Callers may use either form,
 * `(fields, message)` or `(message, fields)`: which one is seen at call time from the first
 * argument. The host gets pino's form, except winston (it has `transports`) and `console`, which
 * get `(message, fields)`, the form that keeps their fields. Adapting twice changes nothing.
 *
 * @example
 * ```ts
 * const log = adaptLogger(winston.createLogger({ transports: [new winston.transports.Console()] }));
 * log.warn({ destination_id: 'dst_1' }, 'destination paused'); // winston.warn('destination paused', { destination_id: 'dst_1' })
 * ```
 */
export function adaptLogger(host: Logger): Logger {
  if ((host as { [adapted]?: true })[adapted]) return host;
  const stringFirst = host === console || (typeof host === 'object' && host !== null && 'transports' in host);
  const out = { [adapted]: true } as Logger & { [adapted]: true };
  for (const level of levels) {
    out[level] = (first, second) => {
      const [fields, message] =
        typeof first === 'string'
          ? [typeof second === 'object' && second !== null ? second : {}, first]
          : [first ?? {}, typeof second === 'string' ? second : undefined];
      const method = host[level] as (a: unknown, b?: unknown) => void;
      if (stringFirst) method.call(host, message ?? '', fields);
      else if (message === undefined) method.call(host, fields);
      else method.call(host, fields, message);
    };
  }
  return out;
}

/** Writes `warn` and `error` as JSON lines to stderr; drops `debug` and `info`. */
export function createDefaultLogger(): Logger {
  const write = (level: string) => (fields: LogFields, message?: string) => {
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`,
    );
  };
  return adaptLogger({ debug() {}, info() {}, warn: write('warn'), error: write('error') });
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
