import { afterAll, describe, expect, it } from 'vitest';
import { jsonValue, seededRandom } from './json-values.testing.js';
import { chunkPlan, createSandbox } from './pool.js';
import type { CodeRef, SandboxEvent, TransformRun } from './types.js';

// The same code through the batch fast path and through the per-event path must give the same
// results: the per-event path is the contract, the fast path an optimisation of it.
const fast = createSandbox({ workers: 1, limits: { transformCpuMs: 300 }, transformChunkEvents: 0 });
const perEvent = createSandbox({ workers: 1, limits: { transformCpuMs: 300 }, batchTransforms: false });
// Splits batches into chunks of 4 events, spread over two workers.
const chunked = createSandbox({ workers: 2, limits: { transformCpuMs: 300 }, transformChunkEvents: 4 });
afterAll(() => Promise.all([fast.close(), perEvent.close(), chunked.close()]));

let version = 0;
const ref = (code: string): CodeRef => ({ kind: 'transform', owner: `pip_b${++version}`, version: 1, code });

async function both(
  code: string,
  events: SandboxEvent[],
  secrets: Record<string, string> = {},
): Promise<{ fast: TransformRun; slow: TransformRun }> {
  const c = ref(code);
  const [a, b] = await Promise.all([
    fast.transform({ code: c, events, profiles: undefined, secrets }),
    perEvent.transform({ code: c, events, profiles: undefined, secrets }),
  ]);
  expect(b.path).toBe('per-event');
  return { fast: a, slow: b };
}

/** Asserts both paths agree and returns the path the fast sandbox took. */
async function same(code: string, events: SandboxEvent[], secrets: Record<string, string> = {}) {
  const { fast: a, slow: b } = await both(code, events, secrets);
  expect(a.results).toEqual(b.results);
  return a;
}

const ev = (n: number, extra: Record<string, unknown> = {}): SandboxEvent => ({
  event_id: `evt_${n}`,
  event_type: n % 3 === 1 ? 'page_view' : 'purchase',
  event_time: `2026-05-04T10:14:${String(n % 60).padStart(2, '0')}.000Z`,
  event_payload: { n, order_id: `ord_${n}`, ...extra },
});
const counts = (run: TransformRun) => run.results.map((r) => (r.ok ? r.outputs.length : -1));

describe('attribution through tracked arrays', () => {
  it('filter keeps indices, map and flatMap attribute to the element the callback got', async () => {
    const code = `function transform({ events }) {
      return events
        .filter((e) => e.event_type === 'purchase')
        .flatMap((e) => Array.from({ length: e.event_payload.n % 4 }, (_, k) => ({ ...e, event_payload: { from: e.event_payload.n, k } })))
        .map((o, i) => ({ ...o, event_payload: { ...o.event_payload, i } }));
    }`;
    const events = Array.from({ length: 12 }, (_, n) => ev(n));
    const run = await same(code, events);
    expect(run.path).toBe('batch');
    // page_view for n % 3 === 1; otherwise n % 4 outputs, each from its own input.
    expect(counts(run)).toEqual(events.map((_, n) => (n % 3 === 1 ? 0 : n % 4)));
    const r = run.results[3]!;
    // The index a callback sees counts the elements of one input, as it would per event.
    expect(r.ok && r.outputs.map((o) => o.event_payload)).toEqual([
      { from: 3, k: 0, i: 0 },
      { from: 3, k: 1, i: 1 },
      { from: 3, k: 2, i: 2 },
    ]);
  });

  it('flatMap of a plain value, of [] and of nested arrays is flattened one level', async () => {
    const code = `function transform({ events }) {
      return events.flatMap((e) => e.event_payload.n === 0 ? [] : e.event_payload.n === 1 ? e : [e, e]);
    }`;
    const run = await same(code, [ev(0), ev(1), ev(2)]);
    expect(run.path).toBe('batch');
    expect(counts(run)).toEqual([0, 1, 2]);
  });

  it('an object shared by several outputs crosses once and comes out as independent copies', async () => {
    const code = `function transform({ events }) {
      const shared = { s: 1 };
      return events.map((e) => ({ ...e, event_payload: { shared, n: e.event_payload.n } }));
    }`;
    const run = await same(code, [ev(0), ev(1), ev(2)]);
    expect(run.path).toBe('batch');
    const [a, b] = run.results.map((r) => r.ok && r.outputs[0]!.event_payload.shared);
    expect(a).toEqual({ s: 1 });
    expect(a).not.toBe(b);
  });

  it('slice applies to the elements of each input, as per event', async () => {
    const code = `function transform({ events }) {
      return events.flatMap((e) => [e, { ...e, event_type: 'copy' }, { ...e, event_type: 'copy2' }]).slice(1, -1);
    }`;
    const run = await same(code, [ev(0), ev(2), ev(3)]);
    expect(run.path).toBe('batch');
    expect(run.results.map((r) => r.ok && r.outputs.map((o) => o.event_type))).toEqual([
      ['copy'],
      ['copy'],
      ['copy'],
    ]);
  });

  it('forEach then returning events; thisArg; Array.isArray; returning events itself', async () => {
    const code = `function transform({ events }) {
      if (!Array.isArray(events)) return [];
      events.forEach(function (e) { e.event_payload.tag = this.tag; }, { tag: 't1' });
      return events;
    }`;
    const run = await same(code, [ev(0), ev(1)]);
    expect(run.path).toBe('batch');
    const first = run.results[0]!;
    expect(first.ok && first.outputs[0]!.event_payload.tag).toBe('t1');
  });
});

describe('fallback to per-event', () => {
  it.each([
    ['a for loop into a plain array', 'const out = []; for (const e of events) out.push(e); return out;'],
    ['events[0]', 'const e = events[0]; return e.event_type === "purchase" ? [e] : [];'],
    ['events.length', 'return events.length === 1 ? events.map((e) => e) : [];'],
    ['reduce', 'return events.reduce((acc, e) => acc.concat([e]), []);'],
    ['a single object', 'return events.map((e) => e)[0];'],
    ['null', 'return null;'],
    ['[]', 'return [];'],
    ['a Promise', 'return Promise.resolve(events.map((e) => e));'],
    ['a tracked array inside a callback', 'return events.map((e) => events.filter((x) => x === e));'],
    ['the array argument of a callback', 'return events.filter((e, i, all) => all.length === 1);'],
    [
      'a tracked array inside the output',
      'return events.map((e) => ({ ...e, event_payload: { all: events } }));',
    ],
    ['spread', 'return [...events];'],
    ['JSON.stringify(events)', 'return JSON.parse(JSON.stringify(events));'],
    // Outputs the host cannot read in binary form: the call comes back as text, per event.
    [
      'a typed array in the output',
      'return events.map((e) => ({ ...e, event_payload: { b: new Uint8Array(2) } }));',
    ],
    ['a BigInt in the output', 'return events.map((e) => ({ ...e, event_payload: { big: 1n } }));'],
    [
      'a cycle in the output',
      'return events.map((e) => { const p = {}; p.self = p; return { ...e, event_payload: p }; });',
    ],
    ['a Map in the output', 'return events.map((e) => ({ ...e, event_payload: { m: new Map([[1, 2]]) } }));'],
  ])('%s: reruns per event, results identical', async (_name, body) => {
    const code = `function transform({ events }) { ${body} }`;
    const run = await same(code, [ev(0), ev(1), ev(2)]);
    expect(run.path).toBe('per-event');
  });

  it('remembers per code version: the next batch goes per event directly', async () => {
    const c = ref('function transform({ events }) { return events[0]; }');
    const before = (await fast.stats()).perWorker[0]!;
    for (let i = 0; i < 3; i++) {
      const run = await fast.transform({ code: c, events: [ev(0), ev(2)], profiles: undefined, secrets: {} });
      expect(run.path).toBe('per-event');
      expect(counts(run)).toEqual([1, 1]);
    }
    const after = (await fast.stats()).perWorker[0]!;
    expect((after.batchFallbacks.taint ?? 0) - (before.batchFallbacks.taint ?? 0)).toBe(1);
  });

  it('isolates a throwing event: the batch reruns per event and only that event fails', async () => {
    const code = `function transform({ events }) {
  return events.map((e) => {
    if (e.event_payload.order_id === 'ord_2') throw new Error('cannot map ' + e.event_payload.order_id);
    return e;
  });
}`;
    const run = await same(code, [ev(0), ev(1), ev(2), ev(3)]);
    expect(run.path).toBe('per-event');
    expect(run.results[2]).toMatchObject({
      ok: false,
      error: { code: 'USER_CODE_ERROR', message: 'Error: cannot map ord_2', line: 3 },
    });
    expect(counts(run)).toEqual([1, 1, -1, 1]);
  });

  it('a callback that is not a function fails every event as it does per event', async () => {
    for (const method of ['filter', 'map', 'flatMap', 'forEach']) {
      const run = await same(`function transform({ events }) { return events.${method}(42); }`, [
        ev(0),
        ev(2),
      ]);
      expect(run.path).toBe('per-event');
      expect(run.results).toMatchObject([
        { ok: false, error: { code: 'USER_CODE_ERROR', message: expect.stringMatching(/^TypeError/) } },
        { ok: false, error: { code: 'USER_CODE_ERROR', message: expect.stringMatching(/^TypeError/) } },
      ]);
    }
  });

  it('a failed attempt leaves no trace: inputs are read again and its console output is dropped', async () => {
    const code = `function transform({ events }) {
      console.log('call');
      return events.map((e) => {
        e.event_payload.seen = (e.event_payload.seen || 0) + 1;
        if (e.event_payload.n === 2) throw new Error('bad');
        return e;
      });
    }`;
    const { fast: run } = await both(code, [ev(0), ev(1), ev(2)]);
    expect(run.path).toBe('per-event');
    expect(run.results.map((r) => r.ok && r.outputs[0]!.event_payload.seen)).toEqual([1, 1, false]);
    expect(run.logs).toEqual([
      { level: 'log', message: 'call' },
      { level: 'log', message: 'call' },
      { level: 'log', message: 'call' },
    ]);
  });

  it('a streak of throwing batches sends the code per event; a single one does not', async () => {
    const c = ref(`function transform({ events }) {
      return events.map((e) => { if (e.event_payload.n === 1) throw new Error('bad'); return e; });
    }`);
    const call = (events: SandboxEvent[]) =>
      fast.transform({ code: c, events, profiles: undefined, secrets: {} });
    expect((await call([ev(0), ev(1)])).path).toBe('per-event');
    expect((await call([ev(0), ev(2)])).path).toBe('batch'); // one throw is not a streak
    for (let i = 0; i < 3; i++) expect((await call([ev(0), ev(1)])).path).toBe('per-event');
    const before = (await fast.stats()).perWorker[0]!.batchFallbacks.error ?? 0;
    const run = await call([ev(0), ev(1)]);
    expect(run.path).toBe('per-event');
    expect((await fast.stats()).perWorker[0]!.batchFallbacks.error ?? 0).toBe(before);
    expect(counts(run)).toEqual([1, -1]);
  });

  it('gives each event its own CPU budget when the whole batch is too slow for one', async () => {
    const code = `function transform({ events }) {
      return events.map((e) => { const end = Date.now() + 120; while (Date.now() < end) {} return e; });
    }`;
    const run = await fast.transform({
      code: ref(code),
      events: [ev(0), ev(1), ev(2)],
      profiles: undefined,
      secrets: {},
    });
    expect(run.path).toBe('per-event');
    expect(counts(run)).toEqual([1, 1, 1]);
  });

  it('an invalid output fails only its own input, with the per-event message', async () => {
    const code = `function transform({ events }) {
      return events.map((e) => e.event_payload.n === 1 ? { event_type: 'x', event_time: 't', event_payload: 'nope' } : e);
    }`;
    const run = await same(code, [ev(0), ev(1), ev(2)]);
    expect(run.path).toBe('batch');
    expect(run.results[1]).toMatchObject({
      ok: false,
      error: { code: 'INVALID_OUTPUT', message: 'output[0].event_payload: expected object, got string' },
    });
    expect(counts(run)).toEqual([1, -1, 1]);
  });

  it('an output too large fails only its own input', async () => {
    const code = `function transform({ events }) {
      return events.map((e) => e.event_payload.n === 1 ? { ...e, event_payload: { big: 'x'.repeat(2 * 1024 * 1024) } } : e);
    }`;
    const run = await same(code, [ev(0), ev(1), ev(2)]);
    expect(run.path).toBe('batch');
    expect(run.results[1]).toMatchObject({ ok: false, error: { code: 'OUTPUT_TOO_LARGE' } });
    expect(counts(run)).toEqual([1, -1, 1]);
  });

  it('a batch of one always runs per event', async () => {
    const run = await fast.transform({
      code: ref('function transform({ events }) { return events; }'),
      events: [ev(0)],
      profiles: undefined,
      secrets: {},
    });
    expect(run.path).toBe('per-event');
    expect(counts(run)).toEqual([1]);
  });
});

describe('large batches cross in chunks', () => {
  it('cuts chunks of about the target size, the first and last half as big', () => {
    expect(chunkPlan(1000, 250)).toEqual([166, 334, 334, 166]);
    expect(chunkPlan(10_000, 250).reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(chunkPlan(500, 250)).toEqual([250, 250]);
    expect(chunkPlan(300, 250)).toEqual([300]);
    expect(chunkPlan(400, 250)).toEqual([200, 200]);
    expect(chunkPlan(1000, 0)).toEqual([1000]);
    for (const n of [375, 600, 749, 751, 1234, 5000]) {
      const plan = chunkPlan(n, 250);
      expect(plan.reduce((a, b) => a + b, 0)).toBe(n);
      expect(Math.min(...plan)).toBeGreaterThanOrEqual(100);
    }
  });

  it('gives the same results, logs in order, and isolates a failing event in any chunk', async () => {
    const code = `function transform({ events }) {
  return events
    .filter((e) => e.event_type === 'purchase')
    .map((e) => {
      console.log('map ' + e.event_payload.n);
      if (e.event_payload.n === 6) throw new Error('bad ' + e.event_payload.n);
      return { ...e, event_payload: { n: e.event_payload.n } };
    });
}`;
    const events = Array.from({ length: 11 }, (_, n) => ev(n));
    const c = ref(code);
    const [a, b] = await Promise.all([
      chunked.transform({ code: c, events, profiles: undefined, secrets: {} }),
      perEvent.transform({ code: c, events, profiles: undefined, secrets: {} }),
    ]);
    expect(a.results).toEqual(b.results);
    expect(a.logs).toEqual(b.logs);
    expect(a.results[6]).toMatchObject({ ok: false, error: { message: 'Error: bad 6', line: 6 } });
    // The chunk holding event 6 ran per event; the whole run reports per-event.
    expect(a.path).toBe('per-event');
  });
});

describe('profiles', () => {
  it('that JSON.stringify answers undefined for reach the transform as undefined, not null, on every path', async () => {
    // As no profiles at all: a transform's `profiles = {}` default then applies, where null would
    // make `profiles[id]` throw.
    const c = ref(
      'function transform({ events, profiles = {} }) { return events.map((e) => ({ ...e, event_payload: { seen: String(profiles === null ? null : typeof profiles) } })); }',
    );
    const events = [ev(0), ev(1), ev(2)];
    const nothing = [() => ({}), { toJSON: () => undefined }, { toJSON: () => () => 1 }];
    for (const profiles of nothing) {
      expect(JSON.stringify(profiles)).toBeUndefined();
      for (const sandbox of [fast, perEvent, chunked]) {
        const run = await sandbox.transform({ code: c, events, profiles, secrets: {} });
        expect(run.results.map((r) => r.ok && r.outputs[0]?.event_payload)).toStrictEqual(
          events.map(() => ({ seen: 'object' })),
        );
      }
    }
  });

  it('reach the transform as JSON.parse(JSON.stringify(profiles)) would give them, on every path (generated values)', async () => {
    const random = seededRandom(11);
    const profiles = { byUser: Array.from({ length: 40 }, () => jsonValue(random)) };
    const expected = { profiles: JSON.parse(JSON.stringify(profiles)) };
    const c = ref(
      'function transform({ events, profiles }) { return events.map((e) => ({ ...e, event_payload: { profiles } })); }',
    );
    const events = [ev(0), ev(1), ev(2), ev(3), ev(4)];
    for (const sandbox of [fast, perEvent, chunked]) {
      const run = await sandbox.transform({ code: c, events, profiles, secrets: {} });
      expect(run.results.map((r) => r.ok && r.outputs[0]?.event_payload)).toStrictEqual(
        events.map(() => expected),
      );
    }
  });
});
