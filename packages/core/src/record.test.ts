import { describe, expect, it } from 'vitest';
import {
  dropPrototypeKeys,
  parseBody,
  parseExchange,
  parseWithoutPrototypeKeys,
  recordExchange,
  recordLogs,
  sliceBatch,
} from './record.js';
import { createRedactor } from './secrets/redact.js';
import { seededRandom } from './testing/helpers.js';

describe('sliceBatch', () => {
  it("cuts every top-level array of the batch's length down to the event's rows", () => {
    const payload = { data: [{ id: 0 }, { id: 1 }, { id: 2 }], access_token: 't', tags: ['a'] };
    expect(sliceBatch(payload, 3, [1])).toEqual({ data: [{ id: 1 }], access_token: 't', tags: ['a'] });
    expect(sliceBatch(payload, 3, [0, 2])).toEqual({
      data: [{ id: 0 }, { id: 2 }],
      access_token: 't',
      tags: ['a'],
    });
    expect(sliceBatch(payload, 1, [0])).toBe(payload);
    expect(sliceBatch([1, 2, 3], 3, [0])).toEqual([1, 2, 3]);
  });
});

describe('parseBody', () => {
  it('parses JSON without prototype keys and keeps other text as text', () => {
    const parsed = parseBody('{"a":1,"__proto__":{"polluted":true},"b":{"constructor":{"x":1}}}') as Record<
      string,
      unknown
    >;
    expect(parsed).toEqual({ a: 1, b: {} });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(parseBody('OK')).toBe('OK');
    expect(parseBody('{not json')).toBe('{not json');
    expect(parseBody('')).toBeUndefined();
  });

  it('parses as JSON.parse with the dropPrototypeKeys reviver over 3,000 generated texts', () => {
    // Seeded, so a failure repeats.
    const { random, pick } = seededRandom(14);
    // Keys: ordinary ones, the three dropped names, and the same names spelled with \u escapes.
    const keys = [
      'a',
      'data',
      'event_name',
      'proto',
      'constructors',
      '__proto__',
      'constructor',
      'prototype',
    ];
    const escaped = ['\\u005f_proto__', 'constructo\\u0072', '\\u0070rototype', '\\u0061'];
    const json = (depth: number): string => {
      if (depth > 3 || random() < 0.3)
        return pick(['1', '-0', '"x"', '"\\u00e9"', 'null', 'true', '"constructor"', '[]', '{}']);
      const size = Math.floor(random() * 4);
      if (random() < 0.4) return `[${Array.from({ length: size }, () => json(depth + 1)).join(',')}]`;
      const members = Array.from({ length: size }, () => {
        const key = random() < 0.85 ? JSON.stringify(pick(keys)) : `"${pick(escaped)}"`;
        return `${key}:${json(depth + 1)}`;
      });
      return `{${members.join(',')}}`;
    };
    let revived = 0;
    for (let n = 0; n < 3_000; n++) {
      const text = json(0);
      const expected = JSON.parse(text, dropPrototypeKeys);
      const got = parseWithoutPrototypeKeys(text);
      // Same keys in the same order, all the way down (a dropped key must be absent, not undefined).
      expect(JSON.stringify(got)).toBe(JSON.stringify(expected));
      expect(got).toStrictEqual(expected);
      if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(expected)) revived++;
    }
    // The generated texts do hold keys the reviver drops.
    expect(revived).toBeGreaterThan(300);
  });
});

describe('recordExchange', () => {
  it('shows the parsed request and response for the rows given, with secrets redacted', () => {
    const parsed = parseExchange({
      request: {
        url: 'https://graph.example/v19.0/123456789/events',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: [{ e: 'a' }, { e: 'b' }], access_token: 'EAAB-secret-token-value' }),
      },
      response: { status: 200, headers: {}, body: '{"events_received":2}' },
      startedAt: '2026-05-04T10:00:00.000Z',
      durationMs: 12,
    });
    const redact = createRedactor({
      META_ACCESS_TOKEN: 'EAAB-secret-token-value',
      META_PIXEL_ID: '123456789',
    });
    expect(recordExchange(parsed, 2, [1], redact)).toEqual({
      request: {
        url: 'https://graph.example/v19.0/[secret:META_PIXEL_ID]/events',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        payload: { data: [{ e: 'b' }], access_token: '[secret:META_ACCESS_TOKEN]' },
      },
      response: { status: 200, headers: {}, body: { events_received: 2 } },
      error: null,
      started_at: '2026-05-04T10:00:00.000Z',
      duration_ms: 12,
    });
  });
});

describe('recordExchange once per batch', () => {
  const token = 'EAAB-secret-token-value-0123456789';
  const pixel = '123456789012';
  const redact = createRedactor({ META_ACCESS_TOKEN: token, META_PIXEL_ID: pixel, SHORT: 'abc' });

  /** How each event's record was built before: its rows cut out first, then the record redacted whole. */
  function perEvent(exchange: Parameters<typeof parseExchange>[0], batchSize: number, indices: number[]) {
    const parsed = parseExchange(exchange, redact);
    const bound = (value: unknown) => {
      if (value === undefined || typeof value === 'string') return value;
      const text = JSON.stringify(value);
      return text.length <= 64 * 1024 ? value : redact.cut(JSON.stringify(redact(value)), 64 * 1024);
    };
    return redact({
      request: {
        url: exchange.request.url,
        method: exchange.request.method,
        headers: exchange.request.headers,
        payload: bound(sliceBatch(parsed.requestPayload, batchSize, indices)),
      },
      response: exchange.response
        ? {
            status: exchange.response.status,
            headers: exchange.response.headers,
            body: bound(sliceBatch(parsed.responseBody, batchSize, indices)),
          }
        : null,
      error: exchange.error ?? null,
      started_at: exchange.startedAt,
      duration_ms: exchange.durationMs,
    });
  }

  const row = (i: number, extra: Record<string, unknown> = {}) => ({
    event_id: `ord_${i}`,
    note: i % 2 ? `token ${token} inside` : 'abc',
    value: i === 3 ? Number(pixel) : i,
    nested: { authorization: `Bearer ${token}`, list: [pixel, `x ${pixel} x`, 'abc'] },
    ...extra,
  });
  const exchangeOf = (rows: unknown[], body: unknown, error?: { code: string; message: string }) => ({
    request: {
      url: `https://graph.example/v19.0/${pixel}/events?access_token=${token}`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-note': token,
        'x-forwarded-auth': 'Bearer a-credential-no-secret-names',
      },
      body: JSON.stringify({ data: rows, access_token: token, [token]: 'a key that is a secret' }),
    },
    response: {
      status: 200,
      headers: { 'set-cookie': 'session=1', 'x-echo': `pixel ${pixel}`, 'x-next': 'Basic dXNlcjpwYXNz' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    },
    ...(error ? { error } : {}),
    startedAt: '2026-05-04T10:00:00.000Z',
    durationMs: Number(pixel),
  });

  it('gives each event the record it got when each was redacted on its own', () => {
    const rows = Array.from({ length: 6 }, (_, i) => row(i));
    const cases = [
      exchangeOf(rows, { events_received: 6, messages: rows.map((_, i) => `ok ${i} ${token}`) }),
      exchangeOf(rows, `plain text answer with ${token}`, { code: 'HTTP_400', message: `bad ${token}` }),
      exchangeOf(rows.slice(0, 1), { events_received: 1 }),
      // Rows too long together for a record, each short enough alone; and one row too long alone.
      exchangeOf(
        Array.from({ length: 6 }, (_, i) => row(i, { pad: `${'.'.repeat(20_000)}${token}` })),
        { events_received: 6 },
      ),
      exchangeOf([row(0, { pad: `${'.'.repeat(70_000)}${token}` }), row(1)], { events_received: 2 }),
    ];
    // The engine's batch redactor remembers texts across the batch (one for all cases here).
    const batch = redact.remembering();
    for (const [exchange, by] of cases.flatMap((c) => [[c, redact] as const, [c, batch] as const])) {
      const size = JSON.parse(exchange.request.body).data.length as number;
      const parsed = parseExchange(exchange, by);
      const pick = [[0], [size - 1], size > 2 ? [1, 2] : [0]];
      for (const indices of pick) {
        const recorded = recordExchange(parsed, size, indices, by);
        expect(recorded).toEqual(perEvent(exchange, size, indices));
        // The same JSON, key order included (a record is stored as its JSON).
        expect(JSON.stringify(recorded)).toBe(JSON.stringify(perEvent(exchange, size, indices)));
        expect(JSON.stringify(recorded)).not.toContain(token);
        expect(JSON.stringify(recorded)).not.toContain(pixel);
      }
    }
  });

  it("cuts exactly the rows whose JSON is over 64 KiB, measured once per batch, at the limit's every side", () => {
    const max = 64 * 1024;
    const base = JSON.stringify({
      data: [row(0, { pad: '' })],
      access_token: token,
      [token]: 'a key that is a secret',
    });
    // Row i's own JSON (with the properties every event shares) is max - 3 + i characters long.
    const rows = Array.from({ length: 7 }, (_, i) => row(0, { pad: '.'.repeat(max - 3 + i - base.length) }));
    const exchange = exchangeOf(rows, { events_received: 7 });
    // Numbers written longer than their text (1e20) and escapes written shorter, over a body of
    // at most 1/6 of the limit: the JSON of what was parsed is never more than 6 times its text.
    const numbers = Array.from({ length: 180 }, (_, i) => `{"n":1e20,"m":-9e20,"s":"\\u0041${i}"}`);
    const short = { ...exchangeOf([], {}), request: { ...exchange.request, body: `{"data":[${numbers}]}` } };
    expect(short.request.body.length * 6).toBeLessThanOrEqual(max);
    // 16,000 characters of text whose JSON is over the limit (5.25 times as long for each number).
    const grown = {
      ...short,
      request: { ...short.request, body: `{"data":[[${Array(3200).fill('1e20')}]]}` },
    };
    expect(grown.request.body.length * 4).toBeLessThanOrEqual(max);
    const batch = redact.remembering();
    for (const [one, size] of [
      [exchange, 7],
      [short, 180],
      [grown, 1],
    ] as const) {
      const parsed = parseExchange(one, batch);
      for (let i = 0; i < size; i++) {
        const recorded = recordExchange(parsed, size, [i], batch);
        expect(JSON.stringify(recorded)).toBe(JSON.stringify(perEvent(one, size, [i])));
        const cut = one === grown || (one === exchange && i > 3);
        expect(typeof recorded.request.payload === 'string', `row ${i} of ${size}`).toBe(cut);
      }
      expect(JSON.stringify(recordExchange(parsed, size, [0, 1], batch))).toBe(
        JSON.stringify(perEvent(one, size, [0, 1])),
      );
    }
  });

  it('cuts at the limit as the exact JSON would, for rows whose JSON is not their text', () => {
    const max = 64 * 1024;
    // Raw text whose JSON is longer (a lone surrogate, a control character, -0's sign dropped but
    // 1e21 and 1e20 grown) or shorter (escapes, spaces, empty nests) than it is.
    const contents = [
      '"\\ud800 lone"',
      `"${String.fromCharCode(0xdc00)}\\u0001 \\u001f"`,
      '[-0, 1e21, 1e20, -1E+20]',
      '{"a":{},"b":[[],{}],"c":[{"d":{}}]}',
      '"\\u00e9\\/\u2028\\"\\\\"',
      '  {  "k" :  [ 1 , 2 ]  }  ',
      `"${token}\\u0041"`,
    ];
    const bodyOf = (pads: number[]) =>
      `{"data":[${contents.map((c, i) => `{"c":${c},"pad":"${'.'.repeat(pads[i]!)}"}`)}],"n":-0,"e":1e21}`;
    const n = contents.length;
    const jsonOf = (body: string, i: number) => JSON.stringify(sliceBatch(JSON.parse(body), n, [i])).length;
    const empty = bodyOf(contents.map(() => 0));
    for (const side of [-1, 0, 1, 2]) {
      // Row i's record is max + side - 1 + (i % 2) characters of JSON: both sides of the limit.
      const pads = contents.map((_, i) => max + side - 1 + (i % 2) - jsonOf(empty, i));
      const body = bodyOf(pads);
      const exchange = { ...exchangeOf([], {}), request: { ...exchangeOf([], {}).request, body } };
      exchange.response = { ...exchange.response, body };
      const batch = redact.remembering();
      const parsed = parseExchange(exchange, batch);
      for (let i = 0; i < n; i++) {
        const recorded = recordExchange(parsed, n, [i], batch);
        expect(JSON.stringify(recorded), `row ${i}, side ${side}`).toBe(
          JSON.stringify(perEvent(exchange, n, [i])),
        );
        const over = jsonOf(body, i) > max;
        expect(over).toBe(side - 1 + (i % 2) > 0);
        expect(typeof recorded.request.payload === 'string', `row ${i}, side ${side}`).toBe(over);
        expect(typeof recorded.response?.body === 'string', `row ${i}, side ${side}`).toBe(over);
        expect(JSON.stringify(recorded)).not.toContain(token.slice(0, 8));
      }
    }
  });

  it('redacts again for another redactor given the same parsed exchange', () => {
    const exchange = exchangeOf([row(0), row(1)], { events_received: 2 });
    const parsed = parseExchange(exchange);
    const none = createRedactor({});
    expect(JSON.stringify(recordExchange(parsed, 2, [1], none))).toContain(token);
    expect(JSON.stringify(recordExchange(parsed, 2, [1], redact))).not.toContain(token);
  });
});

describe('cuts', () => {
  const token = 'EAAB-secret-token-value-0123456789';
  const redact = createRedactor({ META_ACCESS_TOKEN: token });

  it('redacts a body over 64 KiB before cutting it, and the end of a body the sandbox already cut', () => {
    for (const inside of [1, 3, 4, 10, token.length - 1]) {
      const body = `${'.'.repeat(64 * 1024 - inside)}${token}${'.'.repeat(100)}`;
      const parsed = parseExchange(
        {
          request: { url: 'https://graph.example/', method: 'POST', headers: {}, body },
          // Capped by the sandbox's responseBytes, right inside the token.
          response: { status: 200, headers: {}, body: `answer ${token.slice(0, 12)}`, truncated: true },
          startedAt: '2026-05-04T10:00:00.000Z',
          durationMs: 1,
        },
        redact,
      );
      const recorded = recordExchange(parsed, 1, [0], redact);
      // Redacted first: the marker is whole, wherever the cut falls after it.
      expect(recorded.request.payload).toMatch(
        /^\.+\[secret:META_ACCESS_TOKEN\]\.*… \[truncated \d+ chars\]$/,
      );
      expect(recorded.response?.body).toBe('answer [secret:META_ACCESS_TOKEN]');
      expect(JSON.stringify(recorded)).not.toContain(token.slice(0, 4));
    }
  });

  it('records a body nested too deep to walk as its text, redacted and cut, instead of failing the batch', () => {
    // 20,000 levels parse, but walking them (redaction, JSON.stringify) overflows the stack: the
    // batch failed as an engine fault, retried without spending an attempt, and was sent again.
    const deep = `${'['.repeat(20_000)}"${token}"${']'.repeat(20_000)}`;
    const exchange = {
      request: { url: 'https://graph.example/', method: 'POST', headers: {}, body: `{"x":${deep}}` },
      response: { status: 200, headers: {}, body: deep },
      startedAt: '2026-05-04T10:00:00.000Z',
      durationMs: 1,
    };
    for (const truncated of [false, true]) {
      const batch = redact.remembering();
      const captured = { ...exchange, response: { ...exchange.response, truncated } };
      const recorded = recordExchange(parseExchange(captured, batch), 1, [0], batch);
      expect(recorded.request.payload).toBe(`{"x":${deep.replace(token, '[secret:META_ACCESS_TOKEN]')}}`);
      expect(recorded.response?.body).toBe(deep.replace(token, '[secret:META_ACCESS_TOKEN]'));
      expect(JSON.stringify(recorded)).not.toContain(token.slice(0, 8));
    }
  });

  it('keeps 4 KiB of console output, each line redacted before the cut, and redacts a line the sandbox cut', () => {
    for (const inside of [1, 4, token.length - 1]) {
      const logs = recordLogs(
        [
          { level: 'info', message: 'x'.repeat(100) },
          { level: 'info', message: `${'.'.repeat(4096 - 100 - inside)}${token} and more` },
          { level: 'info', message: 'not kept' },
        ],
        redact,
      );
      expect(logs[1]!.message).toMatch(
        /^\.+\[secret:META_ACCESS_TOKEN\]( and more|.*… \[truncated \d+ chars\])$/,
      );
      expect(logs[2]).toEqual({ level: 'warn', message: '[1 more console lines not kept]' });
    }
    // The sandbox cut this line at its own limit and said so on the next line.
    const cut = recordLogs(
      [
        { level: 'info', message: `sending ${token.slice(0, 9)}` },
        { level: 'warn', message: '[console output truncated: limit of 16384 bytes reached]' },
      ],
      redact,
    );
    expect(cut[0]!.message).toBe('sending [secret:META_ACCESS_TOKEN]');
  });
});
