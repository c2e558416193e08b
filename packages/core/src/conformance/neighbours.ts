/**
 * Hostile neighbours: each kind of hostile transform and `send()` runs beside four benign pipes
 * (four destinations) on the same engine and the same sandbox workers. The benign pipes deliver
 * every event on their first attempt — nothing that merely shared a worker with the hostile code is
 * charged an attempt — and only the hostile code's own deliveries fail, with its own error code.
 * One exception, recorded as such: a benign request that was out when a crash killed its worker
 * may have arrived, so it is not re-run unseen; it is retried as a second attempt.
 * Small limits keep each case to seconds (docs/sandbox.md, "Sharing the pool").
 *
 * ```ts
 * runEngineNeighbours({ name: 'sqlite', openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }) });
 * ```
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPipes, type Pipes } from '../engine.js';
import { silentLogger } from '../logger.js';
import { sandboxInternals } from '../sandbox/pool.js';
import type { Sandbox } from '../sandbox/types.js';
import type { Delivery } from '../schemas.js';
import { settled, testSecretKey } from '../testing/helpers.js';
import { startTestServer, type TestServer } from '../testing/test-server.js';
import type { EngineConformanceOptions } from './engine.js';
import { orderEvents, postSend } from './harness.js';

/** Hostile `send()` bodies, what each must end with, and whether its error is retried. */
const hostileSends: Array<[name: string, code: string, error: string]> = [
  ['a synchronous infinite loop', 'function send() { for (;;) {} }', 'TIMEOUT'],
  ['an async infinite loop', 'async function send() { while (true) {} }', 'TIMEOUT'],
  ['a loop after an await', 'async function send() { await null; for (;;) {} }', 'TIMEOUT'],
  [
    'a memory bomb',
    "async function send() { const a = []; for (;;) a.push('x'.repeat(1e6) + a.length); }",
    'OUT_OF_MEMORY',
  ],
  ['deep recursion', 'function send() { const r = (n) => r(n + 1) + 1; return r(0); }', 'STACK_OVERFLOW'],
  ['a promise that never settles', 'async function send() { await new Promise(() => {}); }', 'TIMEOUT'],
  ['huge output', "function send() { return { junk: 'x'.repeat(3e6) }; }", 'OUTPUT_TOO_LARGE'],
  ['a console flood', "function send() { for (;;) console.log('flood '.repeat(100)); }", 'TIMEOUT'],
  ['a throw', "function send() { throw new Error('boom'); }", 'USER_CODE_ERROR'],
];

/** Hostile transforms, on a pipe to a destination a benign pipe also uses. */
const hostileTransforms: Array<[name: string, code: string, error: string]> = [
  ['a synchronous infinite loop', 'function transform() { for (;;) {} }', 'TIMEOUT'],
  [
    'an infinite loop with Date.now replaced',
    'Date.now = () => 0; function transform() { for (;;) {} }',
    'TIMEOUT',
  ],
  [
    'a memory bomb',
    "function transform() { const a = []; for (;;) a.push('x'.repeat(1e6) + a.length); }",
    'OUT_OF_MEMORY',
  ],
  [
    'deep recursion',
    'function transform() { const r = (n) => r(n + 1) + 1; return r(0); }',
    'STACK_OVERFLOW',
  ],
  [
    'a promise that never settles',
    'function transform() { return new Promise(() => {}); }',
    'INVALID_OUTPUT',
  ],
  [
    'huge output',
    "function transform({ events }) { return events.map((e) => ({ ...e, event_payload: { junk: 'x'.repeat(3e6) } })); }",
    'OUTPUT_TOO_LARGE',
  ],
  ['a console flood', "function transform() { for (;;) console.log('flood '.repeat(100)); }", 'TIMEOUT'],
];

const EVENTS = 4;
const BENIGN = 4;

/**
 * A destination (`destination`, turned on) and a pipe of the same name from `sourceId` to it with
 * `transform` (none unless given), turned on; their ids.
 */
async function wire(
  pipes: Pipes,
  sourceId: string,
  destination: Parameters<Pipes['destinations']['create']>[0],
  transform: string | null = null,
) {
  const { id: destinationId } = await pipes.destinations.create(destination);
  await pipes.destinations.toggle(destinationId);
  const { id: pipeId } = await pipes.pipes.create({
    name: destination.name,
    source_id: sourceId,
    destination_id: destinationId,
    transform,
  });
  await pipes.pipes.toggle(pipeId);
  return { destinationId, pipeId };
}

// long-function: one list of it() cases sharing the engine harness set up at its top; every store runs it, the engine's executable spec
export function runEngineNeighbours(options: EngineConformanceOptions): void {
  // Generous time-outs: each case takes seconds, but a loaded CI machine may stretch them.
  describe(`hostile neighbours on ${options.name}`, { timeout: 180_000 }, () => {
    const open: Pipes[] = [];
    const servers: TestServer[] = [];
    let counter = 0;
    const dbName = () => `neigh_${process.pid}_${Date.now().toString(36)}_${counter++}`;

    afterEach(async () => {
      await Promise.all(open.splice(0).map((p) => p.stop({ graceMs: 5_000 }).catch(() => {})));
      await Promise.all(servers.splice(0).map((s) => s.close()));
      await options.cleanup?.();
    }, 60_000);

    /**
     * An engine with four benign pipes (each to its own destination) from one source, plus the
     * hostile piece `add` makes. Returns the benign pipes and the platform stand-in.
     */
    const setup = async (
      add: (pipes: Pipes, sourceId: string, benignDestinations: string[]) => Promise<string>,
    ) => {
      const platform = await startTestServer(() => ({ body: { ok: true } }));
      servers.push(platform);
      const pipes = createPipes({
        store: await options.openStore(dbName()),
        secretKey: testSecretKey,
        logger: silentLogger,
        sandbox: {
          workers: 2,
          limits: {
            transformCpuMs: 300,
            sendCpuMs: 1_000,
            sendWallMs: 2_000,
            memoryBytes: 32 * 1024 * 1024,
            outputBytes: 1024 * 1024,
          },
        },
        egressAllow: [platform.host],
        dispatcher: { pollIntervalMs: 50 },
      });
      open.push(pipes);
      const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object' } });
      const benign: string[] = [];
      const destinations: string[] = [];
      for (let i = 0; i < BENIGN; i++) {
        const { destinationId, pipeId } = await wire(
          pipes,
          source.id,
          {
            name: `benign-${i}`,
            send: postSend(`${platform.url}/d${i}`),
            retry: { initial_delay_ms: 10, multiplier: 1, max_attempts: 10 },
          },
          i % 2 === 0 ? null : 'function transform({ events }) { return events; }',
        );
        destinations.push(destinationId);
        benign.push(pipeId);
      }
      const hostilePipe = await add(pipes, source.id, destinations);
      await pipes.start();
      const ids = Array.from({ length: EVENTS }, (_, i) => `ord_${counter}_${i}`);
      const result = await pipes.ingest('web', orderEvents(ids));
      expect(result.accepted).toBe(EVENTS);
      return { pipes, benign, hostilePipe, platform, ids };
    };

    /**
     * Every benign pipe delivered every event on attempt 1; the platform got each exactly once.
     * With `workerKills`, a benign send whose request was out when a neighbour's crash took its
     * worker down may take one more attempt — recorded as WORKER_CRASHED, "may have arrived" —
     * and the platform never got an event more often than the record shows attempts.
     */
    const expectBenignUntouched = async (
      pipes: Pipes,
      benign: string[],
      platform: TestServer,
      ids: string[],
      { workerKills = false } = {},
    ) => {
      for (const [i, pipeId] of benign.entries()) {
        const deliveries = await settled(pipes, pipeId, EVENTS, 60_000);
        for (const d of deliveries) {
          const retried = workerKills && d.attempt_count > 1;
          expect({
            pipe: i,
            status: d.status,
            attempts: retried ? 'retried' : d.attempt_count,
            error: d.error,
          }).toEqual({
            pipe: i,
            status: 'delivered',
            attempts: retried ? 'retried' : 1,
            error: null,
          });
          if (!retried) continue;
          const record = await pipes.deliveries.get(d.id);
          const earlier = (record.attempts ?? []).filter((a) => a.error !== null && a.error !== undefined);
          expect(earlier.length).toBe(d.attempt_count - 1);
          for (const a of earlier) {
            // Only shared the worker: not charged to its budget or its destination's breaker.
            expect(a.error).toMatchObject({
              code: 'WORKER_CRASHED',
              stage: 'engine',
              message: expect.stringMatching(/may have arrived/),
            });
          }
        }
        const received = platform.requests
          .filter((r) => r.url === `/d${i}`)
          .flatMap((r) => (r.json as { data: Array<{ event_id: string }> }).data.map((e) => e.event_id));
        // Each event reached the platform at least once, and never more often than its record
        // shows attempts (exactly once when it took one).
        const times = (id: string) => received.filter((r) => r === id).length;
        expect(received.every((id) => ids.includes(id))).toBe(true);
        for (const d of deliveries) {
          const got = times(d.event_id);
          expect({ event: d.event_id, ok: got >= 1 && got <= d.attempt_count }).toEqual({
            event: d.event_id,
            ok: true,
          });
        }
      }
    };

    const hostileOutcome = async (pipes: Pipes, pipeId: string) => {
      const deliveries: Delivery[] = await settled(pipes, pipeId, EVENTS, 60_000);
      return Promise.all(deliveries.map((d) => pipes.deliveries.get(d.id)));
    };

    it.each(hostileSends)(
      'a send() with %s fails with its own code; benign pipes deliver everything',
      async (_n, code, error) => {
        const { pipes, benign, hostilePipe, platform, ids } = await setup(
          async (p, sourceId) =>
            (
              await wire(p, sourceId, {
                name: 'hostile',
                send: code,
                retry: { initial_delay_ms: 10, multiplier: 1, max_attempts: 2 },
              })
            ).pipeId,
        );
        await expectBenignUntouched(pipes, benign, platform, ids);
        for (const record of await hostileOutcome(pipes, hostilePipe)) {
          expect(record.error?.code).toBe(error);
          // Retried per its destination's policy when the error is retryable (2 attempts), else failed.
          expect(['dead', 'failed']).toContain(record.status);
          for (const attempt of record.attempts ?? []) expect(attempt.error?.code).toBe(error);
        }
      },
    );

    it.each(hostileTransforms)(
      'a transform with %s fails with its own code; benign pipes, one to the same destination, deliver everything',
      async (_n, code, error) => {
        const { pipes, benign, hostilePipe, platform, ids } = await setup(
          async (p, sourceId, destinations) => {
            const pipe = await p.pipes.create({
              name: 'hostile',
              source_id: sourceId,
              destination_id: destinations[0]!,
              transform: code,
            });
            await p.pipes.toggle(pipe.id);
            return pipe.id;
          },
        );
        await expectBenignUntouched(pipes, benign, platform, ids);
        for (const record of await hostileOutcome(pipes, hostilePipe)) {
          expect(record.status).toBe('failed');
          expect(record.error).toMatchObject({ code: error, stage: 'transform' });
        }
      },
    );

    it('a send() that crashes its worker is charged WORKER_CRASHED; benign pipes deliver everything', async () => {
      let hostileDestination = '';
      const { pipes, benign, hostilePipe, platform, ids } = await setup(async (p, sourceId) => {
        // Busy long enough to be caught running; the worker is killed under it each time.
        const { destinationId, pipeId } = await wire(p, sourceId, {
          name: 'crasher',
          send: 'function send() { const end = Date.now() + 700; while (Date.now() < end) {} return { ok: true }; }',
          retry: { initial_delay_ms: 10, multiplier: 1, max_attempts: 2 },
        });
        hostileDestination = destinationId;
        return pipeId;
      });
      const internals = (
        pipes.sandbox as Sandbox & {
          [sandboxInternals]: { busyWorkers(owner?: string): import('node:worker_threads').Worker[] };
        }
      )[sandboxInternals];
      let done = false;
      const killer = (async () => {
        while (!done) {
          await Promise.all(internals.busyWorkers(`send:${hostileDestination}`).map((w) => w.terminate()));
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      try {
        await expectBenignUntouched(pipes, benign, platform, ids, { workerKills: true });
        for (const record of await hostileOutcome(pipes, hostilePipe)) {
          expect(record.error?.code).toBe('WORKER_CRASHED');
          expect(record.status).toBe('dead');
        }
      } finally {
        done = true;
        await killer;
      }
    });

    it('a slow send() holds its share only: it and the benign pipes all deliver on attempt 1', async () => {
      let slowPipe = '';
      const { pipes, benign, platform, ids } = await setup(async (p, sourceId) => {
        const { pipeId } = await wire(p, sourceId, {
          name: 'slow',
          send: `function send({ events }) { const end = Date.now() + 600; while (Date.now() < end) {} return { ok: true }; }`,
          max_batch_size: 1,
        });
        slowPipe = pipeId;
        return pipeId;
      });
      await expectBenignUntouched(pipes, benign, platform, ids);
      const slow = await settled(pipes, slowPipe, EVENTS, 60_000);
      for (const d of slow)
        expect({ status: d.status, attempts: d.attempt_count }).toEqual({ status: 'delivered', attempts: 1 });
    });
  });
}
