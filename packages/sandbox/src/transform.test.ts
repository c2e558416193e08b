import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { SandboxError } from './errors.js';
import { createSandbox } from './pool.js';
import type { CodeRef, SandboxEvent } from './types.js';

const sandbox = createSandbox({ workers: 1, limits: { transformCpuMs: 500 } });
afterAll(() => sandbox.close());

let version = 0;
const ref = (source: string): CodeRef => ({
  kind: 'transform',
  owner: `pip_t${++version}`,
  version: 1,
  code: source,
});
const run = (source: string, events: SandboxEvent[], secrets: Record<string, string> = {}) =>
  sandbox.transform({ code: ref(source), events, profiles: undefined, secrets });

const purchase = (order: string, extra: Record<string, unknown> = {}): SandboxEvent => ({
  event_id: `evt_${order}`,
  event_type: 'purchase',
  event_time: '2026-05-04T10:14:22.481Z',
  event_payload: {
    hashed_email: 'a'.repeat(64),
    hashed_phone: 'b'.repeat(64),
    fbp: 'fb.1.1714816462.1234',
    fbc: 'fb.1.1714816462.IwAR1',
    ttp: 'ttp-1',
    ttclid: 'ttclid-1',
    gclid: 'gclid-1',
    ip: '203.0.113.7',
    ua: 'Mozilla/5.0',
    page_url: 'https://shop.example/checkout',
    currency: 'EUR',
    revenue: 49.9,
    order_id: order,
    ...extra,
  },
});

describe('transform semantics', () => {
  it('calls transform once per event so outputs are attributed to their input', async () => {
    const fanOut = `function transform({ events }) {
      const e = events[0];
      if (events.length !== 1) throw new Error('expected one event per call');
      return Array.from({ length: e.event_payload.n }, (_, k) => ({ ...e, event_payload: { k } }));
    }`;
    const mk = (n: number): SandboxEvent => ({ event_type: 't', event_time: 'x', event_payload: { n } });
    const r = await run(fanOut, [mk(2), mk(0), mk(1)]);
    expect(r.results.map((x) => (x.ok ? x.outputs.length : -1))).toEqual([2, 0, 1]);
  });

  it('isolates a throwing event and reports its line', async () => {
    const code = `function transform({ events }) {
  const e = events[0];
  if (e.event_payload.order_id === 'bad') {
    throw new Error('cannot map ' + e.event_payload.order_id);
  }
  return [e];
}`;
    const r = await run(code, [purchase('ok1'), purchase('bad'), purchase('ok2')]);
    expect(r.results[0]!.ok).toBe(true);
    expect(r.results[1]).toMatchObject({
      ok: false,
      error: { code: 'USER_CODE_ERROR', message: 'Error: cannot map bad', line: 4 },
    });
    expect(r.results[2]!.ok).toBe(true);
  });

  it('says what is wrong with an invalid output and where', async () => {
    const code = `function transform({ events }) {
      return [events[0], events[0], { event_type: 'x', event_time: 't', event_payload: 'nope' }];
    }`;
    const r = await run(code, [purchase('o')]);
    expect(r.results[0]).toMatchObject({
      ok: false,
      error: { code: 'INVALID_OUTPUT', message: 'output[2].event_payload: expected object, got string' },
    });
    const r2 = await run(
      "function transform() { return [{ event_type: 1, event_time: 't', event_payload: {} }]; }",
      [purchase('o')],
    );
    expect(r2.results[0]).toMatchObject({
      error: { message: 'output[0].event_type: expected string, got number' },
    });
  });

  it('treats undefined/null as filtered and a single object as one output', async () => {
    const r = await run(
      "function transform({ events }) { const e = events[0]; return e.event_payload.order_id === 'a' ? undefined : e; }",
      [purchase('a'), purchase('b')],
    );
    expect(r.results[0]).toEqual({ ok: true, outputs: [] });
    expect(r.results[1]!.ok && r.results[1]!.outputs).toHaveLength(1);
  });

  it('keeps event_id and drops other top-level keys', async () => {
    const r = await run(
      "function transform({ events }) { return [{ ...events[0], extra: 1, event_id: 'new_id' }]; }",
      [purchase('a')],
    );
    expect(r.results[0]!.ok && Object.keys(r.results[0]!.outputs[0]!).sort()).toEqual([
      'event_id',
      'event_payload',
      'event_time',
      'event_type',
    ]);
  });

  it('serialises outputs like JSON (Dates, undefined, NaN); class instances by their own data', async () => {
    const code = `function transform({ events }) {
      const e = events[0];
      return [{ ...e, event_payload: { d: new Date(0), u: new URL('https://a.example/x?y=1'), skip: undefined, nan: NaN, list: [undefined, 1] } }];
    }`;
    const r = await run(code, [purchase('a')]);
    expect(r.results[0]!.ok && r.results[0]!.outputs[0]!.event_payload).toEqual({
      d: '1970-01-01T00:00:00.000Z',
      // Documented difference from JSON.stringify: a toJSON inherited from a class is not called.
      u: {},
      nan: null,
      list: [null, 1],
    });
  });

  it('accepts export default and module.exports forms', async () => {
    const esm = await run('export default function (input) { return input.events; }', [purchase('a')]);
    expect(esm.results[0]!.ok).toBe(true);
    const cjs = await run('module.exports = function ({ events }) { return events; };', [purchase('a')]);
    expect(cjs.results[0]!.ok).toBe(true);
    const named = await run('export function transform({ events }) { return events; }', [purchase('a')]);
    expect(named.results[0]!.ok).toBe(true);
  });

  it('captures console output into the run', async () => {
    const r = await run(
      "function transform({ events }) { console.log('seen', events[0].event_payload.order_id, { a: 1 }); console.warn('w'); return []; }",
      [purchase('z')],
    );
    expect(r.logs).toEqual([
      { level: 'log', message: 'seen z {"a":1}' },
      { level: 'warn', message: 'w' },
    ]);
  });

  it('provides the expected globals', async () => {
    const code = `function transform({ events }) {
      const u = new URL('https://shop.example/p?q=1#h');
      u.searchParams.set('q', 'two words');
      const bytes = new TextEncoder().encode('žluť');
      const clone = structuredClone({ a: [1, { b: 2 }], d: new Date(5) });
      return [{ ...events[0], event_payload: {
        url: u.href, host: u.hostname,
        len: bytes.length, back: new TextDecoder().decode(bytes),
        b64: btoa('hello'), raw: atob('aGVsbG8='),
        clone: clone.a[1].b, cloneDate: clone.d.getTime(),
        uuid: /^[0-9a-f-]{36}$/.test(crypto.randomUUID()),
        sha: openpipes.sha256Hex('a@b.c'),
        shas: openpipes.sha256Hex(['a', 'b']),
        hmac: openpipes.hmacSha256Hex('k', 'v'),
        phone: openpipes.phoneE164('601 123 456', 'CZ'),
        badPhone: openpipes.phoneE164('12', 'CZ'),
        sp: new URLSearchParams({ a: '1', b: 'x y' }).toString(),
      } }];
    }`;
    const r = await run(code, [purchase('g')]);
    const out = r.results[0]!;
    if (!out.ok) throw new Error(out.error.message);
    expect(out.outputs[0]!.event_payload).toEqual({
      url: 'https://shop.example/p?q=two+words#h',
      host: 'shop.example',
      len: 6,
      back: 'žluť',
      b64: 'aGVsbG8=',
      raw: 'hello',
      clone: 2,
      cloneDate: 5,
      uuid: true,
      sha: createHash('sha256').update('a@b.c').digest('hex'),
      shas: [
        'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb',
        '3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d',
      ],
      hmac: expect.stringMatching(/^[0-9a-f]{64}$/),
      phone: '+420601123456',
      badPhone: null,
      sp: 'a=1&b=x+y',
    });
  });

  it('signs and verifies JWTs on the host (HS256 and RS256)', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const code = `function transform({ events, secrets }) {
      const hs = openpipes.jwtSign({ sub: 'u1' }, secrets.HS, { expiresIn: 60 });
      const rs = openpipes.jwtSign({ sub: 'u2' }, secrets.PRIV, { alg: 'RS256', kid: 'k1' });
      let tampered = 'verified';
      // Change the signature's first character (6 whole bits): the last ones carry padding bits,
      // and a changed last character can decode to the same bytes (a flake that hit by chance).
      const sig = hs.split('.')[2];
      const bad = hs.slice(0, hs.length - sig.length) + (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
      try { openpipes.jwtVerify(bad, secrets.HS); } catch (e) { tampered = e.message; }
      return [{ ...events[0], event_payload: {
        hs: openpipes.jwtVerify(hs, secrets.HS).sub,
        rs: openpipes.jwtVerify(rs, secrets.PUB, { algorithms: ['RS256'] }).sub,
        header: JSON.parse(atob(rs.split('.')[0])),
        decoded: openpipes.jwtDecode(hs).sub,
        tampered,
      } }];
    }`;
    const r = await run(code, [purchase('j')], {
      HS: 'secret-key',
      PRIV: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      PUB: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    const out = r.results[0]!;
    if (!out.ok) throw new Error(out.error.message);
    expect(out.outputs[0]!.event_payload).toEqual({
      hs: 'u1',
      rs: 'u2',
      header: { alg: 'RS256', typ: 'JWT', kid: 'k1' },
      decoded: 'u1',
      tampered: 'jwtVerify: signature does not match',
    });
  });
});

describe('compile at save time', () => {
  it('rejects a syntax error with line and column', async () => {
    const err = await sandbox
      .compile({
        kind: 'transform',
        code: 'function transform({ events }) {\n  return events.map(e => {\n    e.x = ;\n  });\n}',
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxError);
    expect(err).toMatchObject({ code: 'COMPILE_ERROR', details: { line: 3, column: expect.any(Number) } });
  });

  it('rejects code that does not define the function', async () => {
    await expect(sandbox.compile({ kind: 'transform', code: 'const x = 1;' })).rejects.toMatchObject({
      code: 'COMPILE_ERROR',
      message: expect.stringMatching(/does not define a function named transform/),
    });
    await expect(sandbox.compile({ kind: 'send', code: 'function transform() {}' })).rejects.toMatchObject({
      code: 'COMPILE_ERROR',
    });
  });

  it('rejects top-level code that throws, and imports of modules that are not vetted', async () => {
    await expect(
      sandbox.compile({ kind: 'transform', code: "throw new Error('boom');\nfunction transform() {}" }),
    ).rejects.toMatchObject({
      code: 'COMPILE_ERROR',
      details: { line: 1 },
    });
    await expect(
      sandbox.compile({ kind: 'transform', code: "import fs from 'fs';\nexport function transform() {}" }),
    ).rejects.toThrow(/module "fs" is not available in the sandbox/);
  });
});
