/**
 * Raw-socket tests: every method node's parser accepts and a table of malformed requests, sent byte
 * for byte to each adapter on a real server. Each gets a complete HTTP answer with the status the
 * docs give (docs/security.md, "What a request gets"), and the server keeps serving afterwards.
 * Issue 12's reproductions are named regression tests below the tables.
 */
import { METHODS } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, openRaw, type RawExchange, untilClosed } from './raw.js';
import { type AdapterName, adapters, type Fixture, startFixture } from './servers.js';

const healthz = '/openpipes/healthz';
const collectWeb = '/openpipes/collect/web';

/** A request with the headers every well-formed one here carries. */
const request = (line: string, headers: string[] = [], body = '') =>
  `${line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`;

interface Case {
  name: string;
  bytes: string | Buffer;
  /** The status every adapter answers, or per adapter where the framework answers on its own. */
  status: number | Record<AdapterName, number>;
  /** The OpenPipes error code, where OpenPipes (not the framework) answers. */
  code?: string | Partial<Record<AdapterName, string>>;
  head?: boolean;
}

const per = <T>(value: T | Partial<Record<AdapterName, T>>, adapter: AdapterName): T | undefined =>
  typeof value === 'object' && value !== null ? (value as Partial<Record<AdapterName, T>>)[adapter] : value;

/** Every method node's parser knows, on a path that takes GET only. */
const methodCases: Case[] = METHODS.map((method) => {
  if (method === 'GET' || method === 'HEAD') {
    return {
      name: method,
      bytes: request(`${method} ${healthz} HTTP/1.1`),
      status: 200,
      head: method === 'HEAD',
    };
  }
  // CONNECT reaches the server's 'connect' listener (hardenServer), which is no proxy.
  return {
    name: method,
    bytes: request(`${method} ${healthz} HTTP/1.1`, ['Content-Length: 0']),
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
  };
});

/** Fastify answers what node's parser refuses itself (answerClientErrors: false), in its own format. */
const parserRefusal = (status: number, code: string): Pick<Case, 'status' | 'code'> => ({
  status,
  code: { node: code, express: code },
});

const malformedCases: Case[] = [
  {
    name: 'an unknown method',
    bytes: request(`FOO ${healthz} HTTP/1.1`),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a lower-case method',
    bytes: request(`get ${healthz} HTTP/1.1`),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'an unknown HTTP version',
    bytes: request(`GET ${healthz} HTTP/7.1`),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a request line with a fourth part',
    bytes: request(`GET ${healthz} HTTP/1.1 x`),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a space inside the target',
    bytes: request('GET /openpipes/a b HTTP/1.1'),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a control byte in the target',
    bytes: request('GET /openpipes/\x01 HTTP/1.1'),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a header line without a colon',
    bytes: request(`GET ${healthz} HTTP/1.1`, ['Bad Header']),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a space before the colon',
    bytes: request(`GET ${healthz} HTTP/1.1`, ['X-Test : 1']),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a NUL byte in a header value',
    bytes: request(`GET ${healthz} HTTP/1.1`, ['X-Test: a\x00b']),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a folded header line',
    bytes: request(`GET ${healthz} HTTP/1.1`, ['X-Test: a', ' b']),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a Content-Length that is not a number',
    bytes: request(`POST ${collectWeb} HTTP/1.1`, ['Content-Length: ten']),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'two different Content-Lengths',
    bytes: request(`POST ${collectWeb} HTTP/1.1`, ['Content-Length: 2', 'Content-Length: 3'], '[]'),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'Content-Length together with chunked',
    bytes: request(
      `POST ${collectWeb} HTTP/1.1`,
      ['Content-Length: 2', 'Transfer-Encoding: chunked'],
      '2\r\n[]\r\n0\r\n\r\n',
    ),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a Transfer-Encoding that does not end in chunked',
    bytes: request(
      `POST ${collectWeb} HTTP/1.1`,
      ['Transfer-Encoding: chunked, gzip'],
      '2\r\n[]\r\n0\r\n\r\n',
    ),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a chunk size that is not hex',
    bytes: request(
      `POST ${collectWeb} HTTP/1.1`,
      ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
      'zz\r\n[]\r\n0\r\n\r\n',
    ),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a chunk size that overflows',
    bytes: request(
      `POST ${collectWeb} HTTP/1.1`,
      ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
      'fffffffffffffffffff\r\n[]\r\n',
    ),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a chunk without its CRLF',
    bytes: request(
      `POST ${collectWeb} HTTP/1.1`,
      ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
      '2\r\n[]xx0\r\n\r\n',
    ),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'HTTP/1.1 without a Host header',
    bytes: `GET ${healthz} HTTP/1.1\r\nConnection: close\r\n\r\n`,
    status: 400,
  },
  {
    name: 'headers of 32 KiB',
    bytes: request(`GET ${healthz} HTTP/1.1`, [`X-Big: ${'a'.repeat(32 * 1024)}`]),
    ...parserRefusal(431, 'HEADERS_TOO_LARGE'),
  },
  {
    name: 'a target of 32 KiB',
    bytes: request(`GET /openpipes/${'a'.repeat(32 * 1024)} HTTP/1.1`),
    ...parserRefusal(431, 'HEADERS_TOO_LARGE'),
  },
  {
    name: 'the HTTP/2 preface',
    bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  {
    name: 'a TLS ClientHello',
    bytes: Buffer.from('160301020001000100030305', 'hex'),
    ...parserRefusal(400, 'VALIDATION_FAILED'),
  },
  // Targets and hosts the parser takes: answered by the route they name, or by the host app.
  {
    name: 'an absolute-form target',
    bytes: request(`GET http://127.0.0.1${healthz} HTTP/1.1`),
    status: 200,
  },
  {
    name: 'an asterisk-form target',
    bytes: request('OPTIONS * HTTP/1.1'),
    status: { node: 200, express: 404, fastify: 404 },
  },
  {
    name: 'a Host header that is no host',
    bytes: `GET ${healthz} HTTP/1.1\r\nHost: [\r\nConnection: close\r\n\r\n`,
    status: 200,
  },
  {
    name: 'a Host header with an impossible port',
    bytes: `GET ${healthz} HTTP/1.1\r\nHost: a:99999\r\nConnection: close\r\n\r\n`,
    status: 200,
  },
  { name: 'HTTP/1.0 without a Host header', bytes: `GET ${healthz} HTTP/1.0\r\n\r\n`, status: 200 },
  {
    name: 'an Upgrade to websocket',
    bytes: request(`GET ${healthz} HTTP/1.1`, ['Upgrade: websocket', 'Connection: Upgrade']),
    status: 200,
  },
  {
    name: 'a path of dot segments',
    bytes: request('GET /openpipes/../openpipes/./healthz HTTP/1.1'),
    status: 200,
  },
  {
    name: 'a path with a broken percent escape',
    bytes: request('GET /openpipes/api/pipes/%zz HTTP/1.1'),
    status: { node: 404, express: 404, fastify: 400 },
  },
  {
    // The route exists (GET /api/pipes/{id}); without a key the request goes no further.
    name: 'a path with an encoded NUL',
    bytes: request('GET /openpipes/api/pipes/%00 HTTP/1.1'),
    status: 401,
    code: 'UNAUTHORIZED',
  },
];

describe.each(adapters)('raw requests through %s', (adapter) => {
  let f: Fixture;
  let port: number;

  beforeAll(async () => {
    f = await startFixture(adapter);
    port = (f.server.address() as AddressInfo).port;
    await f.pipes.sources.create({ name: 'Web', slug: 'web' });
  });

  afterAll(async () => {
    await f?.close();
  });

  /** The server still answers a plain request on a new connection. */
  async function expectStillServing() {
    const after = await exchange(port, request(`GET ${healthz} HTTP/1.1`));
    expect(after.answer?.status).toBe(200);
  }

  function expectAnswer(result: RawExchange, test: Case) {
    expect(
      result.answer,
      `no complete answer, got: ${JSON.stringify(result.text.slice(0, 200))}`,
    ).not.toBeNull();
    const answer = result.answer!;
    expect(answer.status).toBe(per(test.status, adapter));
    const code = test.code === undefined ? undefined : per(test.code, adapter);
    if (code !== undefined) {
      expect(answer.json?.error?.code).toBe(code);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
    }
  }

  it.each(methodCases)('answers $name with a complete answer, and keeps serving', async (test) => {
    const result = await exchange(port, test.bytes, { head: test.head ?? false });
    expectAnswer(result, test);
    if (test.status === 405) {
      // What the path does take: GET for /healthz; nothing for CONNECT, which names no path of ours.
      expect(result.answer!.headers.allow).toBe(test.name === 'CONNECT' ? '' : 'GET');
    }
    await expectStillServing();
  });

  it.each(malformedCases)('answers $name with a complete answer, and keeps serving', async (test) => {
    const result = await exchange(port, test.bytes);
    expectAnswer(result, test);
    await expectStillServing();
  });

  it('regression (issue 12): TRACE /collect/web without credentials answers 405 and the server lives on', async () => {
    const result = await exchange(port, request(`TRACE ${collectWeb} HTTP/1.1`));
    expect(result.answer?.status).toBe(405);
    expect(result.answer?.json.error).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
    expect(result.answer?.json.error.message).toContain('TRACE is not allowed on /openpipes/collect/web');
    expect(result.answer?.headers.allow).toContain('POST');
    expect(result.answer?.headers['x-request-id']).toMatch(/^req_/);
    // With a body it is the same answer (the body is never read).
    const withBody = await exchange(
      port,
      request(`TRACE ${collectWeb} HTTP/1.1`, ['Content-Length: 5'], 'hello'),
    );
    expect(withBody.answer?.status).toBe(405);
    await expectStillServing();
  });

  it('regression (issue 12): a client that leaves half way through its body is logged as its doing, not as a 500', async () => {
    const before = f.logger.lines.length;
    const storedBefore = (await f.stored()).events;
    const received = new Promise<void>((resolve) => f.server.once('request', () => resolve()));
    const socket = await openRaw(port);
    const closed = untilClosed(socket);
    socket.write(
      `POST ${collectWeb} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"event_type":`,
    );
    // Leave once the server has the request (its handler may or may not be reading the body yet:
    // both must end the same way).
    await received;
    socket.destroy();
    await closed;
    const line = await waitFor(async () =>
      f.logger.lines.slice(before).find((l) => l.includes('"code":"CLIENT_CLOSED"')),
    );
    expect(JSON.parse(line)).toMatchObject({
      level: 'debug',
      method: 'POST',
      path: collectWeb,
      status: 499,
      code: 'CLIENT_CLOSED',
    });
    const errors = f.logger.lines.slice(before).filter((l) => l.includes('"level":"error"'));
    expect(errors).toEqual([]);
    expect((await f.stored()).events).toBe(storedBefore);
    await expectStillServing();
  });
});
