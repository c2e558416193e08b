/**
 * The server's logger: JSON lines (for log collectors) or short human lines (for a terminal), on
 * stderr. It writes only what it is given; the engine and the HTTP layer never give it secret values.
 */
import { adaptLogger, type LogFields, type Logger } from '@openpipes/core';

export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];
export type LogFormat = 'json' | 'human';

/**
 * @example
 * ```ts
 * const logger = createCliLogger({ format: 'human', level: 'info', write: (line) => process.stderr.write(line) });
 * logger.info('listening', { url: 'http://127.0.0.1:8787' });
 * ```
 */
export function createCliLogger(options: {
  format: LogFormat;
  level: LogLevel;
  write: (line: string) => void;
}): Logger {
  const threshold = logLevels.indexOf(options.level);
  // pino's form, (fields, message); `adaptLogger` lets the CLI's own calls put the message first.
  const emit =
    (level: LogLevel) =>
    (fields: LogFields, message = '') => {
      if (logLevels.indexOf(level) < threshold) return;
      const time = new Date().toISOString();
      if (options.format === 'json') {
        options.write(`${JSON.stringify({ time, level, message, ...fields })}\n`);
        return;
      }
      const extra = Object.entries(fields ?? {})
        .map(
          ([key, value]) =>
            `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`,
        )
        .join(' ');
      options.write(
        `${time.slice(11, 19)} ${level.toUpperCase().padEnd(5)} ${message}${extra ? `  ${extra}` : ''}\n`,
      );
    };
  return adaptLogger({ debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') });
}
