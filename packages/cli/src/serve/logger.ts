/**
 * The server's logger: pino, JSON lines on stderr (what log collectors parse), or short human lines
 * when asked (`--log-format pretty`) through a small built-in printer, so no extra dependency.
 * It writes only what it is given; the engine and the HTTP layer never give it secret values, and
 * pino's `redact` censors the fields that would hold one if a caller slipped (belt and braces).
 */
import { adaptLogger, type Logger } from '@openpipes/core';
import pino from 'pino';

export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];
/** `json`: pino's JSON lines. `pretty` (alias `human`): one short line per entry, for a terminal. */
export const logFormats = ['json', 'pretty', 'human'] as const;
export type LogFormat = (typeof logFormats)[number];

/** Fields censored wherever they appear (top level, and one level down: `headers.authorization`). */
export const redactedPaths = ['authorization', 'cookie', 'password', 'secret', 'token'].flatMap((key) => [
  key,
  `*.${key}`,
]);

/**
 * The pino options every `openpipes serve` log line is written with: level names (`"level":"warn"`),
 * ISO times, the message under `message`, no pid or hostname.
 */
export function pinoOptions(level: LogLevel): pino.LoggerOptions {
  return {
    level,
    base: null,
    messageKey: 'message',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: redactedPaths, censor: '[redacted]' },
  };
}

/**
 * @example
 * ```ts
 * const logger = createCliLogger({ format: 'json', level: 'info', write: (line) => process.stderr.write(line) });
 * logger.info({ url: 'http://127.0.0.1:8787' }, 'listening');
 * ```
 */
export function createCliLogger(options: {
  format: LogFormat;
  level: LogLevel;
  write: (line: string) => void;
}): Logger & { pino: pino.Logger } {
  const write = options.format === 'json' ? options.write : (line: string) => options.write(prettyLine(line));
  const instance = pino(pinoOptions(options.level), { write });
  // pino's signature, (fields, message); `adaptLogger` lets the CLI's own calls put the message first.
  return Object.assign(adaptLogger(instance), { pino: instance });
}

/**
 * One JSON line as a short human line: `14:02:11 WARN  message  key=value ...`.
 *
 * @example
 * ```ts
 * prettyLine('{"level":"info","time":"2026-01-01T14:02:11.000Z","message":"listening","port":8787}\n');
 * // '14:02:11 INFO  listening  port=8787\n'
 * ```
 */
export function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time, message, ...fields } = entry;
  const extra = Object.entries(fields)
    .map(
      ([key, value]) =>
        `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`,
    )
    .join(' ');
  const clock = typeof time === 'string' ? time.slice(11, 19) : '';
  return `${clock} ${String(level ?? '')
    .toUpperCase()
    .padEnd(5)} ${String(message ?? '')}${extra ? `  ${extra}` : ''}\n`;
}
