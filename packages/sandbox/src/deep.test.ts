import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox } from './pool.js';
import type { CodeRef, SandboxEvent, TransformRun } from './types.js';

// Values nested far too deep to cross the guest/host boundary (20,000 arrays, 40 KB of text):
// each ends its own call with a structured failure; the one worker lives on and serves the rest.
const DEPTH = 20_000;
const ev: SandboxEvent = { event_type: 't', event_time: '2026-01-01T00:00:00Z', event_payload: { n: 1 } };
const sendCode = (owner: string, code: string): CodeRef => ({ kind: 'send', owner, version: 1, code });
const transformCode = (owner: string, code: string): CodeRef => ({
  kind: 'transform',
  owner,
  version: 1,
  code,
});
const benignSend = sendCode(
  'dst_neighbour',
  'async function send({ events }) { return { delivered: events.length }; }',
);

let server: Server;
let url: string;
let sandbox: ReturnType<typeof createSandbox>;

beforeAll(async () => {
  const body = '['.repeat(DEPTH) + ']'.repeat(DEPTH);
  server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  url = `http://127.0.0.1:${port}/`;
  sandbox = createSandbox({ workers: 1, egress: { allow: [`127.0.0.1:${port}`] } });
});
afterAll(async () => {
  await sandbox.close();
  server.close();
});

/** The one worker still serves another tenant's call, and was never restarted. */
async function neighbourSucceeds(): Promise<void> {
  const run = await sandbox.send({ code: benignSend, events: [ev], secrets: {} });
  expect(run.error).toBeUndefined();
  expect(run.value).toEqual({ delivered: 1 });
  expect((await sandbox.stats()).workerRestarts).toBe(0);
}

/** Each of `count` results failed as INVALID_OUTPUT naming the depth limit; the neighbour lives on. */
async function expectEachTooDeep(results: TransformRun['results'], count: number): Promise<void> {
  expect(results).toHaveLength(count);
  for (const r of results) {
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('INVALID_OUTPUT');
      expect(r.error.message).toMatch(/deeper than 512 levels/);
    }
  }
  await neighbourSucceeds();
}

describe('a value nested too deep to cross the boundary', () => {
  for (const [name, body] of [
    ['r.json()', 'return r.json();'],
    ['JSON.parse(await r.text())', 'return JSON.parse(await r.text());'],
  ] as const) {
    it(`a send() returning a deep answer via ${name} fails that call only; the worker lives`, async () => {
      const code = sendCode(
        `dst_deep_${name}`,
        `async function send() { const r = await fetch('${url}'); ${body} }`,
      );
      const beside = sandbox.send({ code: benignSend, events: [ev], secrets: {} });
      const run = await sandbox.send({ code, events: [ev], secrets: {} });
      expect(run.error?.code).toBe('INVALID_OUTPUT');
      expect(run.error?.message).toMatch(/send\(\) result nests objects or arrays deeper than 512 levels/);
      expect((await beside).error).toBeUndefined();
      await neighbourSucceeds();
    }, 60_000);
  }

  it('a send() whose own JSON.stringify of a deep answer overflows after a fetch fails as STACK_OVERFLOW', async () => {
    const code = sendCode(
      'dst_deep_stringify',
      `async function send() { const r = await fetch('${url}'); let v = await r.json(); for (let i = 0; i < ${DEPTH * 4}; i++) v = [v]; return JSON.stringify(v).length; }`,
    );
    const beside = sandbox.send({ code: benignSend, events: [ev], secrets: {} });
    const run = await sandbox.send({ code, events: [ev], secrets: {} });
    expect(run.error?.code).toBe('STACK_OVERFLOW');
    expect(run.error?.message).toMatch(/nested too deep/);
    expect((await beside).error).toBeUndefined();
    await neighbourSucceeds();
  }, 60_000);

  it('a send() result within the limit still crosses', async () => {
    const code = sendCode(
      'dst_deep_ok',
      'async function send() { let v = []; for (let i = 0; i < 500; i++) v = [v]; const c = { a: 1 }; c.self = c; return [v, { c: 1 }]; }',
    );
    const run = await sandbox.send({ code, events: [ev], secrets: {} });
    expect(run.error).toBeUndefined();
  }, 60_000);

  it('a transform output nested too deep fails as INVALID_OUTPUT naming the depth limit', async () => {
    const code = transformCode(
      'pip_deep_output',
      `function transform({ events }) { let v = []; for (let i = 0; i < ${DEPTH}; i++) v = [v]; return events.map((e) => ({ ...e, event_payload: { v } })); }`,
    );
    const run = await sandbox.transform({ code, events: [ev, ev], profiles: {}, secrets: {} });
    await expectEachTooDeep(run.results, 2);
  }, 60_000);

  it('a transform whose own JSON.stringify of a deep value overflows fails as STACK_OVERFLOW', async () => {
    const code = transformCode(
      'pip_deep_stringify',
      `function transform({ events }) { let v = []; for (let i = 0; i < ${DEPTH * 5}; i++) v = [v]; JSON.stringify(v); return events; }`,
    );
    // 100,000 levels: 20,000 can fit once the engine's code is optimised (smaller native frames).
    // Where the engine's own stack limit catches it first, the event fails; where the worker's
    // native stack runs out first, the call does. Either way STACK_OVERFLOW, and only this call.
    const outcome = await sandbox.transform({ code, events: [ev], profiles: {}, secrets: {} }).then(
      (run) => (run.results[0]?.ok === false ? run.results[0].error : run.results[0]),
      (e: unknown) => e,
    );
    expect(outcome).toMatchObject({ code: 'STACK_OVERFLOW' });
    expect((outcome as { message: string }).message).toMatch(/nested too deep|stack overflow/);
    await neighbourSucceeds();
  }, 60_000);

  it('an output that crosses as JSON text (it holds a Map) is held to the same depth limit', async () => {
    const code = transformCode(
      'pip_deep_text',
      'function transform({ events }) { let v = { constructor: 1 }; for (let i = 0; i < 8000; i++) v = [v]; return events.map((e) => ({ ...e, event_payload: { v, m: new Map() } })); }',
    );
    const run = await sandbox.transform({ code, events: [ev], profiles: {}, secrets: {} });
    await expectEachTooDeep(run.results, 1);
  }, 60_000);

  it('a transform output within the limit still crosses', async () => {
    const code = transformCode(
      'pip_deep_ok',
      'function transform({ events }) { let v = []; for (let i = 0; i < 500; i++) v = [v]; return events.map((e) => ({ ...e, event_payload: { v } })); }',
    );
    const run = await sandbox.transform({ code, events: [ev], profiles: {}, secrets: {} });
    expect(run.results[0]?.ok).toBe(true);
  }, 60_000);
});

/** An event whose payload nests `levels` objects and arrays (the payload itself the first), built without recursion. */
function eventNesting(levels: number): SandboxEvent {
  let v: unknown = 1;
  for (let i = 1; i < levels; i++) v = [v];
  return { ...ev, event_payload: { v } };
}
const passThrough = transformCode('pip_deep_input', 'function transform({ events }) { return events; }');
const tooDeepInput = /input nests objects or arrays deeper than 512 levels/;

// What a direct caller of the sandbox hands in (core refuses such events at ingest): the host
// encodes it before any guest code runs, so it must not recurse into it without a bound either.
describe('a value nested too deep to cross into the guest', () => {
  it('a transform given an event nested 100,000 levels deep rejects as NESTING_TOO_DEEP; the worker lives', async () => {
    const beside = sandbox.send({ code: benignSend, events: [ev], secrets: {} });
    const outcome = await sandbox
      .transform({ code: passThrough, events: [ev, eventNesting(DEPTH * 5)], profiles: {}, secrets: {} })
      .then(
        () => 'resolved',
        (e: unknown) => e,
      );
    expect(outcome).toMatchObject({ name: 'SandboxError', code: 'NESTING_TOO_DEEP' });
    expect((outcome as Error).message).toMatch(tooDeepInput);
    expect((await beside).error).toBeUndefined();
    await neighbourSucceeds();
  }, 60_000);

  it('a transform given profiles nested 100,000 levels deep rejects as NESTING_TOO_DEEP', async () => {
    const profiles = eventNesting(DEPTH * 5).event_payload;
    await expect(
      sandbox.transform({ code: passThrough, events: [ev], profiles, secrets: {} }),
    ).rejects.toMatchObject({ code: 'NESTING_TOO_DEEP', message: expect.stringMatching(tooDeepInput) });
    await neighbourSucceeds();
  }, 60_000);

  it('a send() given an event nested 100,000 levels deep fails as NESTING_TOO_DEEP without running', async () => {
    const run = await sandbox.send({ code: benignSend, events: [eventNesting(DEPTH * 5)], secrets: {} });
    expect(run.error?.code).toBe('NESTING_TOO_DEEP');
    expect(run.error?.message).toMatch(tooDeepInput);
    expect(run.exchanges).toEqual([]);
    await neighbourSucceeds();
  }, 60_000);

  it('a value with a toJSON is held to the limit in what it stands for (JSON.stringify follows it)', async () => {
    const deep = { toJSON: () => eventNesting(DEPTH * 5).event_payload };
    await expect(
      sandbox.transform({ code: passThrough, events: [ev], profiles: { p: deep }, secrets: {} }),
    ).rejects.toMatchObject({ code: 'NESTING_TOO_DEEP', message: expect.stringMatching(tooDeepInput) });
    const run = await sandbox.send({
      code: benignSend,
      events: [{ ...ev, event_payload: { deep } }],
      secrets: {},
    });
    expect(run.error?.code).toBe('NESTING_TOO_DEEP');
    expect(run.exchanges).toEqual([]);
    await neighbourSucceeds();
  }, 60_000);

  it('a send() given an event whose getter throws still resolves with the failure (send never rejects)', async () => {
    const event_payload = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('a getter that throws');
      },
    });
    const run = await sandbox.send({ code: benignSend, events: [{ ...ev, event_payload }], secrets: {} });
    expect(run.error?.message).toMatch(/a getter that throws/);
    expect(run.exchanges).toEqual([]);
    await neighbourSucceeds();
  });

  it('a BigInt fails as JSON.stringify fails on it: a send() with WORKER_CRASHED, a transform rejecting', async () => {
    const message = (() => {
      try {
        return JSON.stringify(1n);
      } catch (err) {
        return (err as Error).message;
      }
    })();
    const run = await sandbox.send({
      code: benignSend,
      events: [{ ...ev, event_payload: { n: 1n } }],
      secrets: {},
    });
    expect(run.error).toEqual({ code: 'WORKER_CRASHED', message });
    await expect(
      sandbox.transform({ code: passThrough, events: [ev], profiles: { n: 1n }, secrets: {} }),
    ).rejects.toThrow(new TypeError(message));
    await neighbourSucceeds();
  });

  it('an event whose payload nests 512 levels crosses both ways; 513 levels is refused', async () => {
    const run = await sandbox.transform({
      code: passThrough,
      events: [eventNesting(512)],
      profiles: {},
      secrets: {},
    });
    expect(run.results[0]?.ok).toBe(true);
    const sent = await sandbox.send({ code: benignSend, events: [eventNesting(512)], secrets: {} });
    expect(sent.error).toBeUndefined();
    await expect(
      sandbox.transform({ code: passThrough, events: [eventNesting(513)], profiles: {}, secrets: {} }),
    ).rejects.toMatchObject({ code: 'NESTING_TOO_DEEP' });
    const refused = await sandbox.send({ code: benignSend, events: [eventNesting(513)], secrets: {} });
    expect(refused.error?.code).toBe('NESTING_TOO_DEEP');
  }, 60_000);
});
