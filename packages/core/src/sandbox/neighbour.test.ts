import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox } from './pool.js';
import type { CodeRef, SandboxEvent, SendRun } from './types.js';

const ev: SandboxEvent = { event_type: 't', event_time: '2026-01-01T00:00:00Z', event_payload: { n: 1 } };
const benignSend = 'async function send({ events }) { return { delivered: events.length }; }';
const sendCode = (owner: string, code: string): CodeRef => ({ kind: 'send', owner, version: 1, code });

/** Settles to when (in call order) each promise settled: [benign all done, hostile all done]. */
async function order(benign: Array<Promise<unknown>>, hostile: Array<Promise<unknown>>) {
  let seq = 0;
  const at = { benign: 0, hostile: 0 };
  await Promise.all([
    Promise.all(benign).then(() => {
      at.benign = ++seq;
    }),
    Promise.all(hostile).then(() => {
      at.hostile = ++seq;
    }),
  ]);
  return at;
}

describe('a hostile send() beside benign ones', () => {
  const sandbox = createSandbox({ workers: 2, limits: { sendWallMs: 3_000, sendCpuMs: 1_500 } });
  afterAll(() => sandbox.close());

  for (const [name, code] of [
    ['async infinite loop', 'async function send(){ while(true){} }'],
    ['sync infinite loop', 'function send(){ for(;;){} }'],
    ['loop after an await', 'async function send(){ await null; for(;;){} }'],
  ] as const) {
    it(`${name}: every benign send succeeds before the hostile ones are stopped, each hostile one with TIMEOUT`, async () => {
      const hostile: Array<Promise<SendRun>> = [];
      const benign: Array<Promise<SendRun>> = [];
      for (let round = 0; round < 3; round++) {
        hostile.push(sandbox.send({ code: sendCode(`dst_bad_${name}`, code), events: [ev], secrets: {} }));
        for (let d = 0; d < 4; d++) {
          benign.push(sandbox.send({ code: sendCode(`dst_ok_${d}`, benignSend), events: [ev], secrets: {} }));
        }
      }
      const at = await order(benign, hostile);
      for (const run of await Promise.all(benign)) expect(run.error).toBeUndefined();
      for (const run of await Promise.all(hostile)) {
        expect(run.error?.code).toBe('TIMEOUT');
        expect(run.error?.message).toMatch(/CPU time limit of 1500 ms/);
      }
      expect(at.benign).toBeLessThan(at.hostile);
    }, 60_000);
  }

  it('nine hostile destinations hold their share: a clean one is served ahead of their queued calls', async () => {
    let settled = 0;
    const hostile = Array.from({ length: 9 }, (_, i) =>
      sandbox
        .send({ code: sendCode(`dst_flood_${i}`, 'function send(){ for(;;){} }'), events: [ev], secrets: {} })
        .then((run) => {
          settled++;
          return run;
        }),
    );
    // Wait until the hostile calls occupy the pool, then ask for the clean one.
    await new Promise((r) => setTimeout(r, 200));
    const clean = await sandbox.send({ code: sendCode('dst_clean', benignSend), events: [ev], secrets: {} });
    expect(clean.error).toBeUndefined();
    // Two workers, and at most two spares while the workers are stuck: at most four hostile calls
    // run at once; the clean call goes next, before the hostile ones still waiting.
    expect(settled).toBeLessThanOrEqual(4);
    for (const run of await Promise.all(hostile)) expect(run.error?.code).toBe('TIMEOUT');
  }, 120_000);
});

describe('the CPU limit of send() and transform', () => {
  it('stops a synchronous infinite loop in send() within the default limits (CPU 5 s, wall 15 s)', async () => {
    const sandbox = createSandbox({ workers: 1 });
    try {
      const run = await sandbox.send({
        code: sendCode('dst_spin', 'function send(){ for(;;){} }'),
        events: [ev],
        secrets: {},
      });
      expect(run.error?.code).toBe('TIMEOUT');
      expect(run.error?.message).toMatch(/CPU time limit of 5000 ms/);
      // durationMs is the sandbox's own measure of the call; 1 s of tolerance for a loaded machine.
      expect(run.durationMs).toBeGreaterThanOrEqual(5_000);
      expect(run.durationMs).toBeLessThan(6_000);
    } finally {
      await sandbox.close();
    }
  }, 30_000);

  it('a guest that replaces Date.now cannot escape the CPU limit', async () => {
    const sandbox = createSandbox({ workers: 1, limits: { transformCpuMs: 300, sendCpuMs: 300 } });
    try {
      const transform = await sandbox.transform({
        code: {
          kind: 'transform',
          owner: 'pip_clock',
          version: 1,
          code: 'Date.now = () => 9e15; function transform(){ Date.now = () => 9e15; for(;;){} }',
        },
        events: [ev],
        profiles: undefined,
        secrets: {},
      });
      expect(transform.results[0]).toMatchObject({ ok: false, error: { code: 'TIMEOUT' } });
      expect(transform.durationMs).toBeLessThan(1_300);
      const send = await sandbox.send({
        code: sendCode('dst_clock', 'Date.now = () => 0; function send(){ Date.now = () => 0; for(;;){} }'),
        events: [ev],
        secrets: {},
      });
      expect(send.error?.code).toBe('TIMEOUT');
      expect(send.durationMs).toBeLessThan(1_300);
    } finally {
      await sandbox.close();
    }
  }, 30_000);
});
