// The engine's logger hears the sandbox it makes: createPipes passes its logger to the sandbox, so
// a worker replaced or a spare started reaches a real pino logger with its fields (`worker`,
// `code`) as fields. Each test waits for the line it expects to arrive, never for time to pass.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createPipes, type Pipes } from '@openpipes/core';
import { testSecretKey, waitFor } from '@openpipes/core/testing';
import { type CodeRef, sandboxInternals } from '@openpipes/sandbox';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

type Line = Record<string, unknown>;

/** A real pino logger writing into memory, and a promise for the first line that matches. */
function pinoLines() {
  const lines: Line[] = [];
  const waiting: Array<{ match: (line: Line) => boolean; resolve: (line: Line) => void }> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split('\n').filter(Boolean)) {
        const line = JSON.parse(text) as Line;
        lines.push(line);
        for (const w of waiting.filter((x) => x.match(line))) {
          waiting.splice(waiting.indexOf(w), 1);
          w.resolve(line);
        }
      }
      done();
    },
  });
  const lineWhere = (match: (line: Line) => boolean) =>
    new Promise<Line>((resolve) => {
      const seen = lines.find(match);
      if (seen) resolve(seen);
      else waiting.push({ match, resolve });
    });
  return { logger: pino({ level: 'debug' }, destination), lineWhere };
}

const dir = mkdtempSync(join(tmpdir(), 'openpipes-sandbox-logger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let open: { pipes: Pipes; close: () => Promise<void> } | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

async function engineWith(logger: pino.Logger, name: string) {
  const store = await sqliteStore({ filename: join(dir, `${name}.db`) });
  const pipes = createPipes({
    store,
    secretKey: testSecretKey,
    logger,
    sandbox: { workers: 1, stallMs: 100, limits: { sendCpuMs: 2_000, sendWallMs: 5_000 } },
  });
  open = {
    pipes,
    close: async () => {
      await pipes.stop();
      await store.close();
    },
  };
  const internals = (pipes.sandbox as unknown as { [sandboxInternals]: SandboxInternals })[sandboxInternals];
  return { pipes, internals };
}
type SandboxInternals = {
  workers(): Array<{ terminate(): Promise<number> }>;
  busyWorkers(owner?: string): unknown[];
};

const send = (owner: string, code: string): CodeRef => ({ kind: 'send', owner, version: 1, code });
const ev = { event_type: 'purchase', event_time: '2026-05-04T10:14:22Z', event_payload: {} };

describe("the sandbox's reports reach the engine's logger", () => {
  it('a worker that died and was replaced, with worker and exit code as fields', async () => {
    const { logger, lineWhere } = pinoLines();
    const { internals } = await engineWith(logger, 'exited');
    const replaced = lineWhere((l) => l.msg === 'sandbox worker exited; replacing it');
    await internals.workers()[0]!.terminate();
    expect(await replaced).toMatchObject({ level: 40, worker: 0, code: expect.any(Number) });
  });

  it('a spare started while one call holds the only worker, with the worker as a field', async () => {
    const { logger, lineWhere } = pinoLines();
    const { pipes, internals } = await engineWith(logger, 'spare');
    const spare = lineWhere((l) => l.msg === 'sandbox worker busy with one call; a spare takes its place');
    const hostile = pipes.sandbox.send({
      code: send('dst_loop', 'function send() { for (;;) {} }'),
      events: [ev],
      secrets: {},
    });
    // The loop runs before the other call arrives, so that call waits behind it: the premise of a spare.
    await waitFor(() => internals.busyWorkers('send:dst_loop').length === 1, 15_000, 'the loop to run');
    const benign = pipes.sandbox.send({
      code: send('dst_ok', 'async function send({ events }) { return { sent: events.length }; }'),
      events: [ev],
      secrets: {},
    });
    expect(await spare).toMatchObject({ level: 40, worker: 0 });
    expect(await benign).toMatchObject({ value: { sent: 1 } });
    expect((await hostile).error?.code).toBe('TIMEOUT');
  });
});
