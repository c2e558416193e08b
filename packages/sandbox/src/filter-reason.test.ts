import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox } from './pool.js';
import type { SandboxEvent } from './types.js';

const sandbox = createSandbox({ workers: 1, limits: { transformCpuMs: 500 } });
afterAll(() => sandbox.close());

let version = 0;
const run = (code: string, events: SandboxEvent[]) =>
  sandbox.transform({
    code: { kind: 'transform', owner: `pip_fr${++version}`, version: 1, code },
    events,
    profiles: undefined,
    secrets: {},
  });
const event = (n: number): SandboxEvent => ({
  event_type: 'purchase',
  event_time: 't',
  event_payload: { n },
});

describe('a transform that filters may say why', () => {
  it('reads { filter_reason } on the batch fast path, per input', async () => {
    // events.map over the tracked array: one call for the whole batch.
    const code = `function transform({ events }) {
      return events.map((e) => e.event_payload.n % 2 ? { filter_reason: 'odd_number' } : e);
    }`;
    const r = await run(code, [event(0), event(1), event(2)]);
    expect(r.path).toBe('batch');
    expect(r.results).toEqual([
      { ok: true, outputs: [event(0)] },
      { ok: true, outputs: [], filter_reason: 'odd_number' },
      { ok: true, outputs: [event(2)] },
    ]);
  });

  it('reads a single marker object and a one-element array per event', async () => {
    const code = `function transform({ events }) {
      const e = events[0];
      if (events.length !== 1) throw new Error('per event');
      if (e.event_payload.n === 0) return { filter_reason: 'no_click_id' };
      if (e.event_payload.n === 1) return [{ filter_reason: 'test:traffic' }];
      return [];
    }`;
    const r = await run(code, [event(0), event(1), event(2)]);
    expect(r.results).toEqual([
      { ok: true, outputs: [], filter_reason: 'no_click_id' },
      { ok: true, outputs: [], filter_reason: 'test:traffic' },
      { ok: true, outputs: [] },
    ]);
  });

  it('refuses a marker beside events, and a reason that is not a short plain word', async () => {
    const cases: Array<[string, string]> = [
      [
        '[events[0], { filter_reason: "x" }]',
        'output: a filter marker ({ filter_reason }) cannot stand beside events',
      ],
      ['{ filter_reason: "" }', 'output.filter_reason: expected 1-64 characters'],
      ['{ filter_reason: "has space" }', 'output.filter_reason: expected 1-64 characters'],
      [`[{ filter_reason: "${'x'.repeat(65)}" }]`, 'output[0].filter_reason: expected 1-64 characters'],
      [
        '{ filter_reason: 42 }',
        'output.filter_reason: expected 1-64 characters of A-Z a-z 0-9 _ . : -, got number',
      ],
    ];
    for (const [returned, message] of cases) {
      const r = await run(
        `function transform({ events }) { if (events.length !== 1) throw 1; return ${returned}; }`,
        [event(0)],
      );
      expect(r.results[0], returned).toMatchObject({ ok: false, error: { code: 'INVALID_OUTPUT' } });
      expect(r.results[0]!.ok ? '' : r.results[0]!.error.message).toContain(message);
    }
  });

  it('keeps an event that has both event_type and filter_reason an ordinary output', async () => {
    const r = await run(
      "function transform({ events }) { return events.map((e) => ({ ...e, filter_reason: 'ignored' })); }",
      [event(0)],
    );
    expect(r.results[0]).toEqual({ ok: true, outputs: [event(0)] });
  });
});
