/**
 * Guest HMAC and hashing with binary keys and data: bytes cross to the host as bytes, so a
 * Standard Webhooks `whsec_<base64>` secret's decoded bytes key HMAC-SHA256.
 */
import { createHash, createHmac } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox } from './pool.js';

const sandbox = createSandbox({ workers: 1, limits: { transformCpuMs: 2_000 } });
afterAll(() => sandbox.close());

let version = 0;
/** Runs `preamble`, then returns the value of `expr` from a transform's single output. */
async function value(preamble: string, expr: string): Promise<unknown> {
  const code = `${preamble}
function transform({ events }) { const e = events[0]; return [{ ...e, event_payload: { value: ${expr} } }]; }`;
  const run = await sandbox.transform({
    code: { kind: 'transform', owner: `pip_cb${++version}`, version: 1, code },
    events: [{ event_type: 'x', event_time: '2026-05-04T10:14:22.481Z', event_payload: {} }],
    profiles: undefined,
    secrets: {},
  });
  const r = run.results[0]!;
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.outputs[0]!.event_payload.value;
}

// The Standard Webhooks reference libraries' test vector (CONTRACTS.md).
const vector = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const keyBytes = `const KEY = Uint8Array.from(atob(${JSON.stringify(vector.secret.slice(6))}), (c) => c.charCodeAt(0));`;
const signed = JSON.stringify(`${vector.id}.${vector.timestamp}.${vector.body}`);

describe('guest crypto with binary keys and data', () => {
  it('createHmac keyed with a Uint8Array gives the Standard Webhooks test vector', async () => {
    const preamble = `import { createHmac } from 'node:crypto';\n${keyBytes}`;
    expect(await value(preamble, `createHmac('sha256', KEY).update(${signed}).digest('base64')`)).toBe(
      vector.signature,
    );
    // The same key as an ArrayBuffer, and as a view into a larger buffer.
    expect(await value(preamble, `createHmac('sha256', KEY.buffer).update(${signed}).digest('base64')`)).toBe(
      vector.signature,
    );
    expect(
      await value(
        `${preamble}\nconst BIG = new Uint8Array(KEY.length + 4); BIG.set(KEY, 2); const VIEW = BIG.subarray(2, 2 + KEY.length);`,
        `createHmac('sha256', VIEW).update(${signed}).digest('base64')`,
      ),
    ).toBe(vector.signature);
  });

  it('a string key is still its UTF-8 text, so the base64 text is NOT the key', async () => {
    const asText = createHmac('sha256', vector.secret.slice(6))
      .update(`${vector.id}.${vector.timestamp}.${vector.body}`)
      .digest('base64');
    expect(
      await value(
        "import { createHmac } from 'node:crypto';",
        `createHmac('sha256', ${JSON.stringify(vector.secret.slice(6))}).update(${signed}).digest('base64')`,
      ),
    ).toBe(asText);
    expect(asText).not.toBe(vector.signature);
  });

  it('hashes binary data byte for byte, including bytes that are not UTF-8', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41]);
    const expected = createHmac('sha256', Buffer.from([1, 2, 3]))
      .update(bytes)
      .digest('hex');
    expect(
      await value(
        "import { createHmac } from 'node:crypto';",
        "createHmac('sha256', new Uint8Array([1, 2, 3])).update(new Uint8Array([0, 255, 254, 128, 65])).digest('hex')",
      ),
    ).toBe(expected);
    // Parts of mixed kinds are hashed in order.
    expect(
      await value(
        "import { createHash } from 'node:crypto';",
        "createHash('sha256').update('a').update(new Uint8Array([0xff])).update('b').digest('hex')",
      ),
    ).toBe(
      createHash('sha256')
        .update('a')
        .update(Buffer.from([0xff]))
        .update('b')
        .digest('hex'),
    );
  });

  it('openpipes.hmacSha256Hex takes a binary key, for one value and for many', async () => {
    const key = Buffer.from(vector.secret.slice(6), 'base64');
    const one = createHmac('sha256', key).update('v1').digest('hex');
    const two = createHmac('sha256', key).update('v2').digest('hex');
    expect(await value(keyBytes, "openpipes.hmacSha256Hex(KEY, 'v1')")).toBe(one);
    expect(await value(keyBytes, "openpipes.hmacSha256Hex(KEY, ['v1', 'v2'])")).toEqual([one, two]);
  });
});
