import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { adaptLogger, type LogFields, type Logger } from './logger.js';

/** A real pino logger writing JSON lines into an array (synchronously, so nothing is lost). */
function pinoInto(lines: Array<Record<string, unknown>>) {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return pino({ level: 'debug' }, stream);
}

/** Shaped like a winston logger: string-first methods, and `transports`. */
function winstonStyle() {
  const calls: Array<{ level: string; message: unknown; meta: unknown }> = [];
  const at = (level: string) => (message: unknown, meta?: unknown) => calls.push({ level, message, meta });
  return {
    calls,
    transports: [],
    log: () => {},
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}

describe('adaptLogger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('gives pino its own (fields, message) form, so no field is dropped, whichever form the caller used', () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = adaptLogger(pinoInto(lines));
    log.warn('destination paused', { destination_id: 'dst_1', consecutive_failures: 5 });
    log.error({ request_id: 'req_1', status: 500 }, 'OpenPipes HTTP request failed');
    log.info({ only: 'fields' });
    log.debug('only a message');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'destination paused',
        destination_id: 'dst_1',
        consecutive_failures: 5,
      }),
      expect.objectContaining({
        level: 50,
        msg: 'OpenPipes HTTP request failed',
        request_id: 'req_1',
        status: 500,
      }),
      expect.objectContaining({ level: 30, only: 'fields' }),
      expect.objectContaining({ level: 20, msg: 'only a message' }),
    ]);
    expect(lines[2]).not.toHaveProperty('msg');
  });

  it('shows why: pino given the string-first form drops the fields', () => {
    const lines: Array<Record<string, unknown>> = [];
    (pinoInto(lines).warn as (...args: unknown[]) => void)('destination paused', { destination_id: 'dst_1' });
    expect(lines[0]).not.toHaveProperty('destination_id');
  });

  it('calls a winston-style logger string-first, with its fields as meta', () => {
    const host = winstonStyle();
    const log = adaptLogger(host);
    log.warn({ destination_id: 'dst_1' }, 'destination paused');
    log.error('stopping failed', { error: 'boom' });
    log.info({ n: 1 });
    expect(host.calls).toEqual([
      { level: 'warn', message: 'destination paused', meta: { destination_id: 'dst_1' } },
      { level: 'error', message: 'stopping failed', meta: { error: 'boom' } },
      { level: 'info', message: '', meta: { n: 1 } },
    ]);
  });

  it('calls console string-first', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    adaptLogger(console).warn({ destination_id: 'dst_1' }, 'destination paused');
    expect(warn).toHaveBeenCalledWith('destination paused', { destination_id: 'dst_1' });
  });

  it('calls a logger of your own with (fields, message), and adapting twice changes nothing', () => {
    const seen: Array<[LogFields, string | undefined]> = [];
    const keep = (fields: LogFields, message?: string) => seen.push([fields, message]);
    const own: Logger = { debug: keep, info: keep, warn: keep, error: keep };
    const log = adaptLogger(own);
    expect(adaptLogger(log)).toBe(log);
    log.info('listening', { url: 'http://127.0.0.1:8787' });
    log.warn({ attempt: 2 }, 'retrying');
    log.error('no fields');
    expect(seen).toEqual([
      [{ url: 'http://127.0.0.1:8787' }, 'listening'],
      [{ attempt: 2 }, 'retrying'],
      [{}, 'no fields'],
    ]);
  });

  it('keeps `this` for loggers whose methods are prototype methods (pino, winston)', () => {
    class Host {
      readonly lines: string[] = [];
      debug(_fields: LogFields, message?: string) {
        this.lines.push(`debug ${message}`);
      }
      info(_fields: LogFields, message?: string) {
        this.lines.push(`info ${message}`);
      }
      warn(_fields: LogFields, message?: string) {
        this.lines.push(`warn ${message}`);
      }
      error(_fields: LogFields, message?: string) {
        this.lines.push(`error ${message}`);
      }
    }
    const host = new Host();
    adaptLogger(host).warn('careful');
    expect(host.lines).toEqual(['warn careful']);
  });
});
