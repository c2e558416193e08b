/**
 * The requests direct-path.test.ts sends down both paths: good ones, and one for each way a collect
 * or Segment request can be refused (media type, size, encoding, JSON, limits, source, auth, origin).
 */
import { createHmac } from 'node:crypto';
import { brotliCompressSync, deflateRawSync, gzipSync } from 'node:zlib';

export const prefix = '/openpipes';
export const collectToken = 'collect-bearer-token-5a1f0e9d';
export const hmacKey = 'hmac-signing-key-91c2d7b3e4';
export const maxBodyBytes = 4096;
/** What the cases need from the fixture: the Shop source's Segment write key, once made. */
export const fixture = { writeKey: '' };

/** A request's bytes: `Connection: close` so that the answer ends with the connection. */
function rawRequest(target: string, headers: string[], body: string | Buffer = ''): Buffer {
  const head = `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers
    .map((h) => `${h}\r\n`)
    .join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), typeof body === 'string' ? Buffer.from(body) : body]);
}

const sized = (body: string | Buffer) => `Content-Length: ${Buffer.byteLength(body)}`;
export const json = 'Content-Type: application/json';
const event = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    event_type: 'purchase',
    event_time: '2026-05-04T10:14:22.481Z',
    event_payload: { order_id: 'ord_1', revenue: 10, currency: 'EUR' },
    ...extra,
  });
const signed = (body: string, timestamp = Math.floor(Date.now() / 1000)) => [
  `X-OpenPipes-Timestamp: ${timestamp}`,
  `X-OpenPipes-Signature: sha256=${createHmac('sha256', hmacKey).update(`${timestamp}.${body}`).digest('hex')}`,
];
const basic = (key: string) => `Authorization: Basic ${Buffer.from(`${key}:`).toString('base64')}`;
const track = () =>
  JSON.stringify({
    type: 'track',
    event: 'Order Completed',
    userId: 'user-1',
    properties: { order_id: 'ord_1', revenue: 10, currency: 'EUR' },
    messageId: 'msg-1',
    timestamp: '2026-05-04T10:14:22.481Z',
  });
const chunked = (parts: Buffer[]) =>
  Buffer.concat([
    ...parts.flatMap((p) => [Buffer.from(`${p.byteLength.toString(16)}\r\n`), p, Buffer.from('\r\n')]),
    Buffer.from('0\r\n\r\n'),
  ]);

export interface Case {
  name: string;
  /** The request for one path (`label` makes its event ids unique, so no path sees another's as a duplicate). */
  bytes: (label: string) => Buffer;
  status: number;
  code?: string;
  /** How many `Set-Cookie` lines the answer carries (checked when given). */
  cookies?: number;
}

export const web = `${prefix}/collect/shop`;
const big = JSON.stringify([JSON.parse(event()), { pad: 'x'.repeat(maxBodyBytes) }]);
export const cases: Case[] = [
  { name: 'one event', bytes: () => rawRequest(web, [json, sized(event())], event()), status: 202 },
  {
    name: 'an event with a sender event_id, twice in one body',
    bytes: (label) => {
      const body = `[${event({ event_id: `dup_${label}` })},${event({ event_id: `dup_${label}` })}]`;
      return rawRequest(web, [json, sized(body)], body);
    },
    status: 202,
  },
  {
    name: 'text/plain (a beacon) with a query string cache buster',
    bytes: () => rawRequest(`${web}?_=1714816462&x=1`, ['Content-Type: text/plain', sized(event())], event()),
    status: 202,
  },
  {
    name: 'a trailing slash and a percent-encoded slug',
    bytes: () => rawRequest(`${prefix}/collect/sh%6Fp/`, [json, sized(event())], event()),
    status: 202,
  },
  {
    name: 'an allowed Origin (CORS headers)',
    bytes: () => rawRequest(web, [json, 'Origin: https://shop.example', sized(event())], event()),
    status: 202,
  },
  {
    name: 'a refused Origin',
    bytes: () => rawRequest(web, [json, 'Origin: https://evil.example', sized(event())], event()),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'no Content-Type',
    bytes: () => rawRequest(web, [sized(event())], event()),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a wrong Content-Type',
    bytes: () => rawRequest(web, ['Content-Type: text/html', sized(event())], event()),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a charset other than UTF-8',
    bytes: () => rawRequest(web, ['Content-Type: text/plain; charset=latin1', sized(event())], event()),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'Content-Type given twice (fetch joins the values)',
    bytes: () => rawRequest(web, [json, 'Content-Type: text/plain', sized(event())], event()),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a declared length over the limit',
    bytes: () => rawRequest(web, [json, sized(big)], big),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'a chunked body that grows over the limit',
    bytes: () =>
      rawRequest(
        web,
        [json, 'Transfer-Encoding: chunked'],
        chunked([Buffer.from(big.slice(0, 3000)), Buffer.from(big.slice(3000))]),
      ),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'a chunked body within the limit',
    bytes: () =>
      rawRequest(
        web,
        [json, 'Transfer-Encoding: chunked'],
        chunked([Buffer.from(event().slice(0, 20)), Buffer.from(event().slice(20))]),
      ),
    status: 202,
  },
  {
    name: 'gzip',
    bytes: () => {
      const body = gzipSync(event());
      return rawRequest(web, [json, 'Content-Encoding: gzip', sized(body)], body);
    },
    status: 202,
  },
  {
    name: 'raw deflate',
    bytes: () => {
      const body = deflateRawSync(event());
      return rawRequest(web, [json, 'Content-Encoding: deflate', sized(body)], body);
    },
    status: 202,
  },
  {
    name: 'brotli',
    bytes: () => {
      const body = brotliCompressSync(event());
      return rawRequest(web, [json, 'Content-Encoding: br', sized(body)], body);
    },
    status: 202,
  },
  {
    name: 'a corrupt gzip stream',
    bytes: () => {
      const body = Buffer.from('\x1f\x8b\x08\x00not gzip at all', 'latin1');
      return rawRequest(web, [json, 'Content-Encoding: gzip', sized(body)], body);
    },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'a gzip bomb (small on the wire, over the limit inflated)',
    bytes: () => {
      const body = gzipSync(`[${' '.repeat(maxBodyBytes * 4)}]`);
      return rawRequest(web, [json, 'Content-Encoding: gzip', sized(body)], body);
    },
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'an unsupported Content-Encoding',
    bytes: () => rawRequest(web, [json, 'Content-Encoding: compress', sized(event())], event()),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'invalid JSON',
    bytes: () => rawRequest(web, [json, sized('{"event_type": ')], '{"event_type": '),
    status: 400,
    code: 'INVALID_JSON',
  },
  {
    name: 'a body that is not UTF-8',
    bytes: () => {
      const body = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
      return rawRequest(web, [json, sized(body)], body);
    },
    status: 400,
    code: 'INVALID_JSON',
  },
  {
    name: 'an empty body',
    bytes: () => rawRequest(web, [json, 'Content-Length: 0']),
    status: 400,
    code: 'INVALID_JSON',
  },
  {
    name: 'nesting deeper than the limit',
    bytes: () => {
      const body = event({ event_payload: { a: [[[[[[[[[1]]]]]]]]] } });
      return rawRequest(web, [json, sized(body)], body);
    },
    status: 400,
    code: 'NESTING_TOO_DEEP',
  },
  {
    name: 'a string with an escaped NUL',
    bytes: () => {
      const body = event({ event_payload: { order_id: 'a\\u0000b' } }).replace('\\\\u0000', '\\u0000');
      return rawRequest(web, [json, sized(body)], body);
    },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'more events than the limit',
    bytes: () => {
      const body = `[${Array.from({ length: 6 }, () => event()).join(',')}]`;
      return rawRequest(web, [json, sized(body)], body);
    },
    status: 413,
    code: 'TOO_MANY_EVENTS',
  },
  {
    name: 'no events',
    bytes: () => rawRequest(web, [json, sized('[]')], '[]'),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'a field beside "events"',
    bytes: () => {
      const body = `{"events":[${event()}],"extra":1}`;
      return rawRequest(web, [json, sized(body)], body);
    },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'every event refused by its schema',
    bytes: () => {
      const body = event({ event_payload: { order_id: '', revenue: -1, currency: 'euro' } });
      return rawRequest(web, [json, sized(body)], body);
    },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'an unknown event type beside a good event',
    bytes: () => {
      const body = `[${event()},${event({ event_type: 'nope' })}]`;
      return rawRequest(web, [json, sized(body)], body);
    },
    status: 202,
  },
  {
    name: 'an unknown source',
    bytes: () => rawRequest(`${prefix}/collect/nope`, [json, sized(event())], event()),
    status: 404,
    code: 'UNKNOWN_SOURCE',
  },
  {
    name: 'a disabled source',
    bytes: () => rawRequest(`${prefix}/collect/off`, [json, sized(event())], event()),
    status: 403,
    code: 'SOURCE_DISABLED',
  },
  {
    name: 'a bearer source without a token',
    bytes: () => rawRequest(`${prefix}/collect/backend`, [json, sized(event())], event()),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a bearer source with a wrong token',
    bytes: () =>
      rawRequest(`${prefix}/collect/backend`, [json, 'Authorization: Bearer nope', sized(event())], event()),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a bearer source with its token',
    bytes: () =>
      rawRequest(
        `${prefix}/collect/backend`,
        [json, `Authorization: Bearer ${collectToken}`, sized(event())],
        event(),
      ),
    status: 202,
  },
  {
    name: 'a signed source with a bad signature',
    bytes: () =>
      rawRequest(`${prefix}/collect/signed`, [json, ...signed('other body'), sized(event())], event()),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a signed source with its signature',
    bytes: (label) => {
      // The signature is remembered once used: each path signs its own body.
      const body = event({ event_id: `signed_${label}` });
      return rawRequest(`${prefix}/collect/signed`, [json, ...signed(body), sized(body)], body);
    },
    status: 202,
  },
  {
    name: 'Segment track with the write key as the Basic username',
    bytes: () => rawRequest(`${prefix}/v1/track`, [json, basic(fixture.writeKey), sized(track())], track()),
    status: 200,
  },
  {
    name: 'Segment batch under /collect/<slug>/v1 with writeKey in the body and an allowed Origin',
    bytes: () => {
      const body = JSON.stringify({ writeKey: fixture.writeKey, batch: [JSON.parse(track())] });
      return rawRequest(`${web}/v1/batch`, [json, 'Origin: https://shop.example', sized(body)], body);
    },
    status: 200,
  },
  {
    name: 'Segment track with an unknown write key',
    bytes: () => rawRequest(`${prefix}/v1/t`, [json, basic('wk_nope'), sized(track())], track()),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'Segment track that is not an object',
    bytes: () => rawRequest(`${prefix}/v1/track`, [json, basic(fixture.writeKey), sized('[1]')], '[1]'),
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'Segment track, gzip, over the size limit once inflated',
    bytes: () => {
      const body = gzipSync(JSON.stringify({ ...JSON.parse(track()), pad: 'x'.repeat(maxBodyBytes) }));
      return rawRequest(
        `${prefix}/v1/track`,
        [json, basic(fixture.writeKey), 'Content-Encoding: gzip', sized(body)],
        body,
      );
    },
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'first-party cookies for a site on a parent domain (two Set-Cookie lines)',
    bytes: () => {
      const body = event({
        event_payload: {
          order_id: 'ord_1',
          revenue: 10,
          currency: 'EUR',
          fbp: 'fb.1.1714816462000.1234567890',
          anonymous_id: 'anon-1234',
          consent: { ad_storage: 'GRANTED' },
        },
      });
      const bytes = rawRequest(
        `${prefix}/collect/site`,
        [json, 'Origin: https://www.shop.example', sized(body)],
        body,
      );
      return Buffer.from(
        bytes.toString('latin1').replace('Host: 127.0.0.1', 'Host: collect.shop.example'),
        'latin1',
      );
    },
    status: 202,
  },
  {
    name: 'a malformed X-Request-Id (a new one is made)',
    bytes: () => rawRequest(web, [json, 'X-Request-Id: bad id!', sized(event())], event()),
    status: 202,
  },
];
