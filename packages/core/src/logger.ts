/**
 * The engine's logger. Pass your own (pino, winston...) as `createPipes({ logger })`; the default
 * writes warnings and errors to stderr as JSON lines. Log fields never carry secret values: the
 * engine only logs ids, counts, codes and redacted messages.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Writes `warn` and `error` as JSON lines to stderr; drops `debug` and `info`. */
export function createDefaultLogger(): Logger {
  const write = (level: string, message: string, fields?: Record<string, unknown>) => {
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`,
    );
  };
  return {
    debug() {},
    info() {},
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
