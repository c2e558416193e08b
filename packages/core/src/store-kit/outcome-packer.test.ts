import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryAttempt } from '../schemas.js';
import type { DeliveryDetail } from '../store.js';
import { deliveredAttempt } from './attempt.test-support.js';
import { createOutcomePacker, type OutcomePacker } from './outcome-packer.js';
import { packOutcome } from './records.js';

type Outcome = { detail: DeliveryDetail; attempt: DeliveryAttempt | null };

/** A delivered outcome as the engine records it: its detail is its attempt's. */
function delivered(i: number): Outcome {
  const request = {
    url: 'https://graph.example/v19.0/[secret:PIXEL]/events',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    payload: { data: [{ event_name: 'Purchase', event_id: `ord_${i}`, value: i }] },
  };
  const response = { status: 200, headers: {}, body: { events_received: 1, fbtrace_id: `tr_${i}` } };
  const attempt = deliveredAttempt(1 + (i % 12), request, response);
  return { detail: { output: [{ event_type: 'purchase', n: i }], request, response, error: null }, attempt };
}

/** One outcome of every way a detail and an attempt are stored (see packed.ts's tags). */
function everyCase(): Record<string, Outcome> {
  const base = delivered(7);
  const attempt = base.attempt as DeliveryAttempt;
  // 100 printable ASCII characters from a fixed seed: text that raw deflate cannot shrink.
  let seed = 7;
  const noise = Array.from({ length: 100 }, () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return String.fromCharCode(0x21 + ((seed >>> 16) % 0x5d));
  }).join('');
  return {
    reference: base,
    'deflated detail and attempt': { detail: { ...base.detail, request: { ...attempt.request } }, attempt },
    'no attempt': { detail: { ...base.detail, request: { ...attempt.request } }, attempt: null },
    'short detail, no attempt': {
      detail: { output: null, request: null, response: null, error: null },
      attempt: null,
    },
    'incompressible detail': {
      detail: { z: noise } as unknown as DeliveryDetail,
      attempt,
    },
    'erased detail': { detail: { ...base.detail, erased_at: '2026-05-05T00:00:00.000Z' }, attempt },
  };
}

const expectSameBytes = (got: Awaited<ReturnType<OutcomePacker['pack']>>, outcomes: Outcome[]) => {
  expect(got).toHaveLength(outcomes.length);
  outcomes.forEach((outcome, i) => {
    const want = packOutcome(outcome);
    expect([...(got[i]?.detail ?? [])]).toEqual([...want.detail]);
    expect(got[i]?.attempt === null ? null : [...(got[i]?.attempt ?? [])]).toEqual(
      want.attempt === null ? null : [...want.attempt],
    );
  });
};

/** A worker module from source, as a data: URL (the worker's file is ESM either way). */
const workerOf = (source: string) => new URL(`data:text/javascript,${encodeURIComponent(source)}`);

describe('createOutcomePacker', () => {
  const packers: OutcomePacker[] = [];
  const packer = (options?: Parameters<typeof createOutcomePacker>[0]) => {
    const created = createOutcomePacker(options);
    packers.push(created);
    return created;
  };
  afterEach(async () => {
    await Promise.all(packers.splice(0).map((p) => p.close()));
  });

  it("packs every kind of outcome into packOutcome's very bytes, in order, on its worker", async () => {
    const cases = everyCase();
    // Each tag is really there: a reference, deflate, plain JSON (short and incompressible).
    expect(packOutcome(cases.reference as Outcome).detail[0]).toBe(0x02);
    expect(packOutcome(cases['deflated detail and attempt'] as Outcome).detail[0]).toBe(0x01);
    expect(packOutcome(cases['short detail, no attempt'] as Outcome).detail[0]).toBe(0x7b);
    expect(packOutcome(cases['incompressible detail'] as Outcome).detail[0]).toBe(0x7b);
    const failures: unknown[] = [];
    const p = packer({ onWorkerFailure: (reason) => failures.push(reason) });
    for (const outcome of Object.values(cases)) expectSameBytes(await p.pack([outcome]), [outcome]);
    const batch = [...Object.values(cases), ...Array.from({ length: 200 }, (_, i) => delivered(i))];
    expectSameBytes(await p.pack(batch), batch);
    expect(await p.pack([])).toEqual([]);
    // Packed by the built worker, not by the fallback on this thread.
    expect(failures).toEqual([]);
  });

  it('packs concurrent batches each into its own bytes', async () => {
    const p = packer();
    const batches = Array.from({ length: 5 }, (_, b) =>
      Array.from({ length: 20 }, (_, i) => delivered(b * 20 + i)),
    );
    const packed = await Promise.all(batches.map((batch) => p.pack(batch)));
    for (const [b, batch] of batches.entries()) expectSameBytes(packed[b] ?? [], batch);
  });

  it('uses what its worker answers, value by value in order', async () => {
    // A stand-in worker that stores every text as it is: its bytes are not packOutcome's, so they
    // show that the detail's and the attempt's values come back to the right outcome.
    const p = packer({
      workerFile: workerOf(`import { parentPort } from 'node:worker_threads';
        parentPort.on('message', ({ id, texts }) => {
          const parts = texts.map((t) => new TextEncoder().encode(t));
          const ends = new Uint32Array(parts.length);
          let at = 0;
          parts.forEach((x, i) => { at += x.length; ends[i] = at; });
          const bytes = new Uint8Array(at);
          at = 0;
          for (const x of parts) { bytes.set(x, at); at += x.length; }
          parentPort.postMessage({ id, bytes, ends }, [bytes.buffer, ends.buffer]);
        });`),
    });
    const { reference, 'no attempt': alone } = everyCase();
    const [ref, whole] = await p.pack([reference as Outcome, alone as Outcome]);
    expect([...(ref?.detail ?? [])]).toEqual([...packOutcome(reference as Outcome).detail]);
    expect(JSON.parse(ref?.attempt?.toString('utf8') ?? '')).toHaveProperty('detail_output');
    expect(JSON.parse(whole?.detail.toString('utf8') ?? '')).toEqual(alone?.detail);
    expect(whole?.attempt).toBeNull();
  });

  it('packs on the caller thread when its worker crashes, answers wrongly, or is gone', async () => {
    const batch = Object.values(everyCase());
    const failures: unknown[] = [];
    const crashing = packer({
      workerFile: workerOf(
        `import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => { throw new Error('boom'); });`,
      ),
      onWorkerFailure: (reason) => failures.push(reason),
    });
    // Every batch, the ones after the worker gave up on included, is packed all the same.
    for (let i = 0; i < 5; i++) expectSameBytes(await crashing.pack(batch), batch);
    // Started again after each crash, three times, then no more.
    expect(failures).toHaveLength(3);
    expect(String(failures[0])).toMatch(/boom/);
    const exiting = packer({
      workerFile: workerOf(
        `import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => process.exit(3));`,
      ),
    });
    expectSameBytes(await exiting.pack(batch), batch);
    const wrong = packer({
      workerFile: workerOf(`import { parentPort } from 'node:worker_threads';
        parentPort.on('message', ({ id }) => parentPort.postMessage({ id, bytes: new Uint8Array(3), ends: new Uint32Array(1) }));`),
    });
    expectSameBytes(await wrong.pack(batch), batch);
    expectSameBytes(await packer({ workerFile: '/nonexistent/pack-worker.js' }).pack(batch), batch);
    expectSameBytes(await packer({ workerFile: null }).pack(batch), batch);
  });

  it('packs on the caller thread when its worker never answers, and stops that worker', async () => {
    const batch = Object.values(everyCase());
    const failures: unknown[] = [];
    const silent = packer({
      workerFile: workerOf(
        `import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => {});`,
      ),
      onWorkerFailure: (reason) => failures.push(reason),
      replyTimeoutMs: 50,
    });
    expectSameBytes(await silent.pack(batch), batch);
    expect(String(failures[0])).toMatch(/did not answer within 50 ms/);
    // The hung worker was stopped and counted: each later batch starts a new one, three in all.
    for (let i = 0; i < 4; i++) expectSameBytes(await silent.pack(batch), batch);
    expect(failures.filter((f) => /did not answer/.test(String(f)))).toHaveLength(3);
  });

  it('packs a batch in flight when closed, and every batch after', async () => {
    const failures: unknown[] = [];
    const p = packer({ onWorkerFailure: (reason) => failures.push(reason) });
    const batch = Array.from({ length: 100 }, (_, i) => delivered(i));
    const inFlight = p.pack(batch);
    await p.close();
    expectSameBytes(await inFlight, batch);
    expectSameBytes(await p.pack(batch), batch);
    expect(failures).toEqual([]);
  });

  it('does not keep the process alive once its batches are packed', () => {
    // A process that packs on the worker and never closes its packer still exits on its own (run
    // with --input-type, a flag the worker must not inherit).
    const storeKit = fileURLToPath(new URL('../../dist/store-kit/index.js', import.meta.url));
    const printed = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { createOutcomePacker } = await import(${JSON.stringify(storeKit)});
         const packer = createOutcomePacker({ onWorkerFailure: (reason) => console.log('failed', reason) });
         const packed = await packer.pack([{ detail: { output: ['${'x'.repeat(200)}'] }, attempt: null }]);
         console.log(packed[0].detail[0]);`,
      ],
      // Bounded: a packer that kept the process alive fails here instead of hanging the run.
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(printed.trim()).toBe('1');
  });
});
