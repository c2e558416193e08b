import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox } from './pool.js';
import type { SandboxEvent } from './types.js';

const sandbox = createSandbox({ workers: 1, limits: { transformCpuMs: 2_000 } });
afterAll(() => sandbox.close());

let version = 0;
const ev: SandboxEvent = {
  event_type: 'purchase',
  event_time: '2026-05-04T10:14:22.481Z',
  event_payload: { phone: '601 123 456' },
};
/** Runs a transform whose single output payload is `{ value: <expr> }` and returns the value. */
async function value(preamble: string, expr: string): Promise<unknown> {
  const code = `${preamble}
function transform({ events }) { const e = events[0]; return [{ ...e, event_payload: { value: ${expr} } }]; }`;
  const run = await sandbox.transform({
    code: { kind: 'transform', owner: `pip_m${++version}`, version: 1, code },
    events: [ev],
    profiles: undefined,
    secrets: {},
  });
  const r = run.results[0]!;
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.outputs[0]!.event_payload.value;
}

describe('vetted modules work inside the sandbox', () => {
  it('lodash-es (import and require)', async () => {
    expect(
      await value(
        "import { camelCase, chunk } from 'lodash-es';",
        "[camelCase('event name'), chunk([1, 2, 3], 2)]",
      ),
    ).toEqual(['eventName', [[1, 2], [3]]]);
    expect(await value("const _ = require('lodash');", "_.get({ a: { b: 7 } }, 'a.b')")).toBe(7);
  });

  it('date-fns', async () => {
    expect(
      await value(
        "import { format, addDays, parseISO } from 'date-fns';",
        "format(addDays(parseISO('2026-05-04T10:00:00Z'), 1), 'yyyy-MM-dd')",
      ),
    ).toBe('2026-05-05');
  });

  it('zod', async () => {
    const pre = "import { z } from 'zod';\nconst S = z.object({ phone: z.string().min(3) });";
    expect(await value(pre, 'S.parse(e.event_payload).phone')).toBe('601 123 456');
    expect(await value(pre, 'S.safeParse({ phone: 1 }).success')).toBe(false);
  });

  it('uuid and ulid', async () => {
    expect(await value("import { v4, validate } from 'uuid';", 'validate(v4())')).toBe(true);
    expect(await value("const { ulid } = require('ulid');", 'ulid().length')).toBe(26);
  });

  it('libphonenumber-js', async () => {
    expect(
      await value(
        "import { parsePhoneNumberFromString } from 'libphonenumber-js';",
        "parsePhoneNumberFromString(e.event_payload.phone, 'CZ').number",
      ),
    ).toBe('+420601123456');
  });

  it('host-backed @openpipes/jwt, @openpipes/crypto, @openpipes/phone and crypto', async () => {
    expect(
      await value(
        "import { sign, verify } from '@openpipes/jwt';",
        "verify(sign({ sub: 's' }, 'k'), 'k').sub",
      ),
    ).toBe('s');
    expect(await value("import { sha256Hex } from '@openpipes/crypto';", "sha256Hex('x').length")).toBe(64);
    expect(await value("import { toE164 } from '@openpipes/phone';", "toE164('+1 650 253 0000')")).toBe(
      '+16502530000',
    );
    expect(
      await value(
        "import { createHmac } from 'node:crypto';",
        "createHmac('sha256', 'k').update('v').digest('base64').length",
      ),
    ).toBe(44);
  });

  it('refuses anything else by name', async () => {
    await expect(value("const x = require('axios');", '1')).rejects.toThrow(
      /module "axios" is not available in the sandbox \(available: /,
    );
  });
});
