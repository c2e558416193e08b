import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox } from './pool.js';
import type { CodeRef, SandboxEvent } from './types.js';

// One small pool for the whole file: every stop condition must leave it serving other owners.
const sandbox = createSandbox({
  workers: 1,
  limits: {
    transformCpuMs: 200,
    sendWallMs: 600,
    memoryBytes: 32 * 1024 * 1024,
    outputBytes: 64 * 1024,
    consoleBytes: 2048,
  },
});
afterAll(() => sandbox.close());

let version = 0;
const code = (kind: CodeRef['kind'], source: string, owner = `own_${kind}_${++version}`): CodeRef => ({
  kind,
  owner,
  version: 1,
  code: source,
});
const event = (i: number): SandboxEvent => ({
  event_type: 'purchase',
  event_time: '2026-05-04T10:14:22.481Z',
  event_payload: { i },
});
const events = (n: number) => Array.from({ length: n }, (_, i) => event(i));

const healthy = code('transform', 'function transform({ events }) { return events; }', 'pip_healthy');
async function expectPoolStillServes() {
  const run = await sandbox.transform({ code: healthy, events: events(3), profiles: undefined, secrets: {} });
  expect(run.results.map((r) => r.ok)).toEqual([true, true, true]);
}

/** A transform that misbehaves only on the event with payload.i === 1. */
const onSecond = (body: string) =>
  code(
    'transform',
    `function transform({ events }) { if (events[0].event_payload.i === 1) { ${body} } return events; }`,
  );

describe('stop conditions', () => {
  it('stops an infinite loop within the CPU limit and runs the other events', async () => {
    const started = performance.now();
    const run = await sandbox.transform({
      code: onSecond('for (;;) {}'),
      events: events(3),
      profiles: undefined,
      secrets: {},
    });
    const elapsed = performance.now() - started;
    expect(run.results[0]!.ok).toBe(true);
    expect(run.results[1]).toMatchObject({ ok: false, error: { code: 'TIMEOUT', line: 1 } });
    expect(run.results[2]!.ok).toBe(true);
    // Unstopped, the loop never ends; stopped, it costs ~200 ms plus a fresh context. The bound only
    // tells the two apart, so it leaves room for a busy machine (2 s failed at load 18 on 2 cores).
    expect(elapsed).toBeLessThan(15_000);
    await expectPoolStillServes();
  });

  it('gives each event its own CPU budget', async () => {
    // 6 events x ~50 ms each: more than the 200 ms limit in total, well within it per call (the
    // limit is wall-clock; 120 ms per event left too little room on a busy machine).
    const busy = code(
      'transform',
      'function transform({ events }) { return events.map((e) => { const end = Date.now() + 50; while (Date.now() < end) {} return e; }); }',
    );
    const run = await sandbox.transform({ code: busy, events: events(6), profiles: undefined, secrets: {} });
    expect(run.path).toBe('per-event');
    expect(run.results.every((r) => r.ok)).toBe(true);
  });

  it('stops a memory bomb with OUT_OF_MEMORY', async () => {
    const run = await sandbox.transform({
      code: onSecond("const a = []; for (;;) a.push('x'.repeat(1 << 20) + a.length);"),
      events: events(3),
      profiles: undefined,
      secrets: {},
    });
    expect(run.results[0]!.ok).toBe(true);
    expect(run.results[1]).toMatchObject({ ok: false, error: { code: 'OUT_OF_MEMORY' } });
    expect(run.results[2]!.ok).toBe(true);
    await expectPoolStillServes();
  });

  it('stops deep recursion with STACK_OVERFLOW', async () => {
    const run = await sandbox.transform({
      code: onSecond('const f = (n) => f(n + 1) + 1; f(0);'),
      events: events(2),
      profiles: undefined,
      secrets: {},
    });
    expect(run.results[1]).toMatchObject({ ok: false, error: { code: 'STACK_OVERFLOW' } });
    await expectPoolStillServes();
  });

  it('ends a send() awaiting a promise that never settles with TIMEOUT', async () => {
    const started = performance.now();
    const run = await sandbox.send({
      code: code('send', 'async function send() { await new Promise(() => {}); }'),
      events: [event(0)],
      secrets: {},
    });
    expect(run.error).toMatchObject({ code: 'TIMEOUT' });
    // Never settling, it would wait forever; the 600 ms wall limit ends it (bound: see above).
    expect(performance.now() - started).toBeLessThan(15_000);
    await expectPoolStillServes();
  });

  it('ends a send() that loops forever with TIMEOUT', async () => {
    const run = await sandbox.send({
      code: code('send', 'async function send() { for (;;) {} }'),
      events: [],
      secrets: {},
    });
    expect(run.error).toMatchObject({ code: 'TIMEOUT' });
    await expectPoolStillServes();
  });

  it('refuses a huge output with OUTPUT_TOO_LARGE for that event only', async () => {
    const run = await sandbox.transform({
      code: code(
        'transform',
        "function transform({ events }) { const e = events[0]; if (e.event_payload.i === 1) e.event_payload.blob = 'x'.repeat(200000); return [e]; }",
      ),
      events: events(3),
      profiles: undefined,
      secrets: {},
    });
    expect(run.results[0]!.ok).toBe(true);
    expect(run.results[1]).toMatchObject({ ok: false, error: { code: 'OUTPUT_TOO_LARGE' } });
    expect(run.results[2]!.ok).toBe(true);
  });

  it('refuses a huge send() result with OUTPUT_TOO_LARGE', async () => {
    const run = await sandbox.send({
      code: code('send', "async function send() { return 'y'.repeat(100000); }"),
      events: [],
      secrets: {},
    });
    expect(run.error).toMatchObject({ code: 'OUTPUT_TOO_LARGE' });
  });

  it('bounds a console flood and says it truncated', async () => {
    // 5,000 lines are 25 times the 2 KiB kept, and far inside the 200 ms CPU limit even on a busy
    // machine (100,000 lines ran into that wall-clock limit under load and failed as TIMEOUT).
    const run = await sandbox.transform({
      code: code(
        'transform',
        "function transform({ events }) { for (let i = 0; i < 5000; i++) console.log('line', i); return events; }",
      ),
      events: events(1),
      profiles: undefined,
      secrets: {},
    });
    expect(run.results[0]!.ok).toBe(true);
    const bytes = run.logs.reduce((n, l) => n + l.message.length, 0);
    expect(bytes).toBeLessThan(2048 + 200);
    expect(run.logs.at(-1)?.message).toMatch(/truncated/);
  });

  it('keeps serving other owners while one owner misbehaves concurrently', async () => {
    const bad = sandbox.transform({
      code: onSecond('for (;;) {}'),
      events: events(3),
      profiles: undefined,
      secrets: {},
    });
    const good = Array.from({ length: 5 }, () =>
      sandbox.transform({ code: healthy, events: events(2), profiles: undefined, secrets: {} }),
    );
    const [badRun, ...goodRuns] = await Promise.all([bad, ...good]);
    expect(badRun.results[1]).toMatchObject({ ok: false, error: { code: 'TIMEOUT' } });
    for (const run of goodRuns) expect(run.results.every((r) => r.ok)).toBe(true);
  });
});
