import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox } from './pool.js';
import type { CodeRef, SandboxEvent, SendRun } from './types.js';

const ev: SandboxEvent = { event_type: 't', event_time: '2026-01-01T00:00:00Z', event_payload: { n: 1 } };
const benignSend = 'async function send({ events }) { return { delivered: events.length }; }';
const sendCode = (owner: string, code: string): CodeRef => ({ kind: 'send', owner, version: 1, code });

describe('a hostile send() beside benign ones', () => {
  const sandbox = createSandbox({ workers: 2, limits: { sendWallMs: 3_000, sendCpuMs: 1_500 } });
  afterAll(() => sandbox.close());

  for (const [name, code] of [
    ['async infinite loop', 'async function send(){ while(true){} }'],
    ['sync infinite loop', 'function send(){ for(;;){} }'],
    ['loop after an await', 'async function send(){ await null; for(;;){} }'],
  ] as const) {
    it(`${name}: every benign send succeeds, each hostile one ends TIMEOUT`, async () => {
      const hostile: Array<Promise<SendRun>> = [];
      const benign: Array<Promise<SendRun>> = [];
      for (let round = 0; round < 3; round++) {
        hostile.push(sandbox.send({ code: sendCode(`dst_bad_${name}`, code), events: [ev], secrets: {} }));
        for (let d = 0; d < 4; d++) {
          benign.push(sandbox.send({ code: sendCode(`dst_ok_${d}`, benignSend), events: [ev], secrets: {} }));
        }
      }
      for (const run of await Promise.all(benign)) expect(run.error).toBeUndefined();
      for (const run of await Promise.all(hostile)) {
        expect(run.error?.code).toBe('TIMEOUT');
        expect(run.error?.message).toMatch(/CPU time limit of 1500 ms/);
      }
    }, 60_000);
  }

  it('nine hostile destinations hold their share: a clean one goes ahead of their further calls', async () => {
    let settled = 0;
    const firstRound: Array<Promise<SendRun>> = [];
    const all: Array<Promise<SendRun>> = [];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 9; i++) {
        const call = sandbox
          .send({
            code: sendCode(`dst_flood_${i}`, 'function send(){ for(;;){} }'),
            events: [ev],
            secrets: {},
          })
          .then((run) => {
            settled++;
            return run;
          });
        all.push(call);
        if (round === 0) firstRound.push(call);
      }
    }
    // Every hostile destination has shown itself (its first call hit the CPU limit), so each is
    // suspect now; their second calls wait or run apart. (Before an owner has failed once it looks
    // like any other, and a clean call may wait behind it: docs/sandbox.md says so.)
    await Promise.all(firstRound);
    const before = settled;
    const clean = await sandbox.send({ code: sendCode('dst_clean', benignSend), events: [ev], secrets: {} });
    expect(clean.error).toBeUndefined();
    // Two workers and at most two spares while they are stuck: at most four hostile calls run at
    // once; the clean call, whose owner used the workers least, goes next.
    expect(settled - before).toBeLessThanOrEqual(4);
    for (const run of await Promise.all(all)) expect(run.error?.code).toBe('TIMEOUT');
  }, 180_000);
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
      // Stopped by its own limit in the worker (not by the pool's watchdog, 5 s later), within the
      // limit plus a generous allowance for creating the context on a loaded machine.
      expect(transform.results[0]).toMatchObject({
        ok: false,
        error: { code: 'TIMEOUT', message: 'CPU time limit of 300 ms exceeded' },
      });
      expect(transform.durationMs).toBeLessThan(3_000);
      const send = await sandbox.send({
        code: sendCode('dst_clock', 'Date.now = () => 0; function send(){ Date.now = () => 0; for(;;){} }'),
        events: [ev],
        secrets: {},
      });
      expect(send.error?.code).toBe('TIMEOUT');
      expect(send.error?.message).toMatch(/CPU time limit of 300 ms/);
      expect(send.durationMs).toBeLessThan(3_000);
    } finally {
      await sandbox.close();
    }
  }, 30_000);
});
