import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, sandboxInternals } from './pool.js';
import type { SandboxEvent } from './types.js';

const sandbox = createSandbox({ workers: 2, limits: { transformCpuMs: 3_000 } });
afterAll(() => sandbox.close());

const ev: SandboxEvent = { event_type: 't', event_time: '2026-01-01T00:00:00Z', event_payload: {} };
// Busy for ~400 ms per event: long enough to kill the worker in the middle of the call.
const slow = `function transform({ events }) { const end = Date.now() + 400; while (Date.now() < end) {} return events; }`;

/** Resolves once `check()` holds, looking again every 10 ms (a condition, not a time). */
async function until<T>(check: () => T | undefined | false): Promise<T> {
  for (;;) {
    const value = check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The pool runs a new owner's call afterwards (its workers replaced). */
async function expectServesAgain(owner: string): Promise<void> {
  const ok = await sandbox.transform({
    code: { kind: 'transform', owner, version: 1, code: 'function transform({ events }) { return events; }' },
    events: [ev],
    profiles: undefined,
    secrets: {},
  });
  expect(ok.results[0]!.ok).toBe(true);
}

// Each test starts workers again after killing them: generous time-outs for a loaded machine.
describe('worker crashes', { timeout: 90_000 }, () => {
  it('replaces a worker killed mid-call and retries the call on a fresh one', async () => {
    const call = sandbox.transform({
      code: { kind: 'transform', owner: 'pip_crash', version: 1, code: slow },
      events: [ev, ev],
      profiles: undefined,
      secrets: {},
    });
    // Mid-call: its code is running on one of the two workers.
    await until(() => sandbox[sandboxInternals].busyWorkers('transform:pip_crash').length === 1);
    const workers = sandbox[sandboxInternals].workers();
    expect(workers.length).toBe(2);
    // Kill every worker: the one running the call, and the one its retry could be handed to while
    // that one is being terminated too (it never starts the call there, so it is not charged).
    await Promise.all(workers.map((w) => w.terminate()));
    const run = await call;
    expect(run.results.map((r) => r.ok)).toEqual([true, true]);
    const stats = await sandbox.stats();
    expect(stats.workerRestarts).toBeGreaterThanOrEqual(1);
  });

  it('reports WORKER_CRASHED when the retry dies too', async () => {
    const call = sandbox.transform({
      code: { kind: 'transform', owner: 'pip_crash2', version: 1, code: slow },
      events: [ev, ev, ev],
      profiles: undefined,
      secrets: {},
    });
    // Take the outcome now: the call may fail while the loop below is still killing workers.
    const outcome = call.then(
      () => null,
      (err: unknown) => err,
    );
    // Kill the worker while this call's code runs there, twice (a worker that dies while nobody's
    // code runs, or while another call's does, is not charged to this call; so only workers
    // running this owner's code are killed, never one still busy with another test's call).
    for (let i = 0; i < 2; i++) {
      const busy = await until(() => {
        const running = sandbox[sandboxInternals].busyWorkers('transform:pip_crash2');
        return running.length > 0 && running;
      });
      await Promise.all(busy.map((w) => w.terminate()));
    }
    expect(await outcome).toMatchObject({ code: 'WORKER_CRASHED' });
    // And the pool serves again afterwards.
    await expectServesAgain('pip_after');
  });

  it('fails a retried call whose batch no longer encodes (a toJSON that now nests too deep) on its own, the pool serving on', async () => {
    // A direct caller's event whose toJSON answers plainly the first time and 100,000 levels deep
    // after: the retry after its worker dies encodes the batch again, inside the pool's hand-over
    // of calls (a worker's exit event), where a throw would end the host process.
    let encodings = 0;
    const deep = () => {
      let v: unknown = 1;
      for (let i = 0; i < 100_000; i++) v = [v];
      return v;
    };
    const shifty = { ...ev, event_payload: { toJSON: () => (encodings++ === 0 ? {} : deep()) } };
    const call = sandbox.transform({
      code: { kind: 'transform', owner: 'pip_shifty', version: 1, code: slow },
      events: [shifty as unknown as SandboxEvent],
      profiles: undefined,
      secrets: {},
    });
    const outcome = call.then(
      () => null,
      (err: unknown) => err,
    );
    await until(() => sandbox[sandboxInternals].busyWorkers('transform:pip_shifty').length === 1);
    await Promise.all(sandbox[sandboxInternals].workers().map((w) => w.terminate()));
    expect(await outcome).toMatchObject({ code: 'NESTING_TOO_DEEP' });
    expect(encodings).toBeGreaterThanOrEqual(2);
    await expectServesAgain('pip_after_shifty');
  });

  it("gives a send retried on a fresh worker its events again (the first call's bytes went to the dead one)", async () => {
    // Busy before it reaches outside, so a death mid-call is retried; it says what it was given.
    const code = `function send({ events }) {
      const end = Date.now() + 400; while (Date.now() < end) {}
      console.log(events.length + ' ' + events.map((e) => e.event_type).join(','));
    }`;
    const call = sandbox.send({
      code: { kind: 'send', owner: 'dst_crash_events', version: 1, code },
      events: [ev, { ...ev, event_type: 'u' }],
      secrets: {},
    });
    const busy = await until(() => {
      const running = sandbox[sandboxInternals].busyWorkers('send:dst_crash_events');
      return running.length > 0 && running;
    });
    await Promise.all(busy.map((w) => w.terminate()));
    const run = await call;
    expect(run.error).toBeUndefined();
    expect(run.logs.map((l) => l.message)).toEqual(['2 t,u']);
  });

  it('never runs again unseen a send whose request had left when its worker died: it ends WORKER_CRASHED, sent once', async () => {
    // The platform holds its answer: the request has arrived, the send awaits the response.
    const held: ServerResponse[] = [];
    let received = 0;
    const platform = createServer((req, res) => {
      req.resume();
      received++;
      held.push(res);
    });
    await new Promise<void>((r) => platform.listen(0, '127.0.0.1', r));
    const { port } = platform.address() as AddressInfo;
    const own = createSandbox({ workers: 1, egress: { allow: [`127.0.0.1:${port}`] } });
    try {
      const code = `async function send({ events }) {
        const res = await fetch('http://127.0.0.1:${port}/events', { method: 'POST', body: JSON.stringify(events) });
        return { ok: res.ok };
      }`;
      const call = own.send({
        code: { kind: 'send', owner: 'dst_waiting', version: 1, code },
        events: [ev],
        secrets: {},
      });
      await until(() => received === 1);
      // Its worker dies (as if another call's code had crashed it) while the request is out.
      await Promise.all(own[sandboxInternals].workers().map((w) => w.terminate()));
      const run = await call;
      expect(run.error).toMatchObject({
        code: 'WORKER_CRASHED',
        message: expect.stringMatching(/may have arrived/),
      });
      // Settled with the error, so it was not re-run: a re-run would have answered instead.
      expect(received).toBe(1);
      // Nobody's code ran when the worker died, so the call cannot be told from a culprit.
      expect(run.error?.bystander).toBeUndefined();

      // Now a neighbour's code is running on that worker when it dies: the waiting send only
      // shared the worker, so it ends marked bystander (the engine charges it nothing). Another
      // owner: dst_waiting is suspect now, and no innocent call would join its worker.
      const waiting = own.send({
        code: { kind: 'send', owner: 'dst_waiting_too', version: 1, code },
        events: [ev],
        secrets: {},
      });
      await until(() => received === 2);
      const spin = 'function send() { const end = Date.now() + 1000; while (Date.now() < end) {} }';
      const neighbour = own.send({
        code: { kind: 'send', owner: 'dst_spinning', version: 1, code: spin },
        events: [ev],
        secrets: {},
      });
      const busy = await until(() => {
        const running = own[sandboxInternals].busyWorkers('send:dst_spinning');
        return running.length > 0 && running;
      });
      await Promise.all(busy.map((w) => w.terminate()));
      expect((await waiting).error).toMatchObject({ code: 'WORKER_CRASHED', bystander: true });
      expect(received).toBe(2);
      // The neighbour, the culprit, is retried once on a fresh worker (it never reached outside).
      expect((await neighbour).error).toBeUndefined();

      // A call that never reached outside is still re-run elsewhere: the pool serves again.
      const after = own.send({
        code: { kind: 'send', owner: 'dst_waiting', version: 1, code },
        events: [ev],
        secrets: {},
      });
      await until(() => received === 3);
      for (const res of held) if (!res.writableEnded) res.end('{}');
      expect((await after).error).toBeUndefined();
    } finally {
      await own.close();
      platform.closeAllConnections();
      await new Promise((r) => platform.close(r));
    }
  });
});
