import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox } from './pool.js';
import type { CodeRef, SandboxEvent } from './types.js';

const sandbox = createSandbox({ workers: 1, limits: { transformCpuMs: 500 } });
afterAll(() => sandbox.close());

let version = 0;
const ref = (source: string): CodeRef => ({
  kind: 'transform',
  owner: `pip_e${++version}`,
  version: 1,
  code: source,
});
const ev: SandboxEvent = { event_type: 't', event_time: '2026-01-01T00:00:00Z', event_payload: { a: 1 } };
const runOne = async (source: string, secrets: Record<string, string> = {}) => {
  const r = await sandbox.transform({ code: ref(source), events: [ev], profiles: undefined, secrets });
  return r.results[0]!;
};
/** Runs an expression in the guest and returns what it evaluated to (as JSON data). */
const probe = async (expr: string) => {
  const r = await runOne(`function transform({ events }) {
    let value;
    try { value = (function () { return ${expr}; })(); } catch (e) { value = 'threw: ' + e.message; }
    return [{ ...events[0], event_payload: { value: value === undefined ? 'undefined' : value } }];
  }`);
  if (!r.ok) throw new Error(r.error.message);
  return r.outputs[0]!.event_payload.value;
};

describe('escape attempts', () => {
  it("constructor.constructor('return process')() finds no process", async () => {
    expect(await probe("this.constructor.constructor('return process')()")).toBe(
      "threw: 'process' is not defined",
    );
    expect(await probe("typeof ({}).constructor.constructor('return globalThis')().process")).toBe(
      'undefined',
    );
  });

  it('has no host globals', async () => {
    expect(await probe('typeof process')).toBe('undefined');
    expect(await probe('typeof Buffer')).toBe('undefined');
    expect(await probe('typeof setTimeout')).toBe('undefined');
    expect(await probe('typeof __openpipes_host')).toBe('undefined');
    expect(await probe('typeof fetch')).toBe('undefined'); // transforms get no network at all
  });

  it("require('child_process') is refused by name", async () => {
    expect(await probe("require('child_process')")).toMatch(
      /threw: .*module "child_process" is not available in the sandbox/,
    );
    expect(await probe("require('fs')")).toMatch(/not available/);
  });

  it("import('fs') is refused", async () => {
    const r = await runOne(
      `function transform({ events }) { import('fs').then(() => {}, () => {}); return events; }`,
    );
    expect(r.ok).toBe(true);
    await expect(
      sandbox.compile({
        kind: 'transform',
        code: "import { readFileSync } from 'fs';\nexport function transform() {}",
      }),
    ).rejects.toMatchObject({ code: 'COMPILE_ERROR' });
    await expect(
      sandbox.compile({
        kind: 'transform',
        code: "import cp from 'node:child_process';\nexport function transform() {}",
      }),
    ).rejects.toThrow(/not available/);
  });

  it('cannot pollute host prototypes through __proto__ in output', async () => {
    const r = await runOne(`function transform({ events }) {
      const payload = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "ok": 1}');
      return [{ ...events[0], event_payload: payload }];
    }`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const payload = r.outputs[0]!.event_payload;
    expect(Object.keys(payload)).toEqual(['ok']);
    const merged = Object.assign({}, payload);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((merged as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(payload)).toBe(Object.prototype);
  });

  it('prototype tricks on returned output do not reach the host', async () => {
    const r = await runOne(`function transform({ events }) {
      Object.prototype.injected = 'x';
      Array.prototype.map = function () { return ['hijacked']; };
      const out = Object.create({ event_type: 'inherited', event_time: 't', event_payload: {} });
      return [out];
    }`);
    // Inherited fields are not own data: the output is invalid, and nothing leaked to the host.
    expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_OUTPUT' } });
    expect(({} as Record<string, unknown>).injected).toBeUndefined();
    expect([1].map((x) => x + 1)).toEqual([2]);
  });

  it('does not share context state between owners', async () => {
    await runOne("globalThis.leak = 'from owner A'; function transform({ events }) { return events; }");
    expect(await probe('typeof globalThis.leak')).toBe('undefined');
  });

  it('a transform that returns the secrets it was given only ever sees its own', async () => {
    const r = await runOne(
      'function transform({ events, secrets }) { return [{ ...events[0], event_payload: { secrets } }]; }',
      {
        TOKEN: 'pipe-scoped',
      },
    );
    expect(r.ok && r.outputs[0]!.event_payload).toEqual({ secrets: { TOKEN: 'pipe-scoped' } });
  });
});
