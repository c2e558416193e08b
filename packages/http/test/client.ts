/**
 * A small HTTP client for the tests: real requests over loopback, answers parsed as JSON, and every
 * answer checked against the server's OpenAPI document (test/openapi-check.ts): an undocumented
 * status or a body that does not validate fails the test that saw it.
 */
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { checkerFor } from './openapi-check.js';
import { type Fixture, writeKey } from './servers.js';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test answers are inspected field by field
  json: any;
}

export interface CallOptions {
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is. */
  raw?: string | Uint8Array;
  /** API key; default the write key; null sends none. */
  key?: string | null;
  headers?: Record<string, string>;
}

async function toAnswer(response: Response): Promise<Answer> {
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Throws when the answer is not one the OpenAPI document allows for `method path`. */
export async function checkAnswer(
  f: Pick<Fixture, 'base'>,
  method: string,
  path: string,
  answer: Answer,
): Promise<Answer> {
  (await checkerFor(f.base)).check(method, path, answer);
  return answer;
}

/**
 * `fetch(<base><path>)` as is (no API key, no body handling), with the answer checked against the
 * document.
 */
export async function checkedFetch(
  f: Pick<Fixture, 'base'>,
  path: string,
  init: RequestInit = {},
): Promise<Answer> {
  const answer = await toAnswer(await fetch(`${f.base}${path}`, init));
  return checkAnswer(f, init.method ?? 'GET', path, answer);
}

/** Calls `<base><path>` with an API key. */
export async function call(
  f: Fixture,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? writeKey.token : options.key;
  if (key) headers.authorization = `Bearer ${key}`;
  let body: string | Uint8Array | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  if (options.raw !== undefined) body = options.raw;
  return checkAnswer(
    f,
    method,
    path,
    await toAnswer(await fetch(`${f.base}${path}`, { method, headers, body })),
  );
}

/** Posts to `/collect/<slug>` (no API key; JSON unless a content type is given). */
export async function collect(
  f: Fixture,
  slug: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const raw = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  const answer = await toAnswer(
    await fetch(`${f.base}/collect/${slug}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: raw,
    }),
  );
  return checkAnswer(f, 'POST', `/collect/${slug}`, answer);
}

/** The HMAC headers for a body: HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function sign(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)) {
  return {
    'x-openpipes-timestamp': String(timestamp),
    'x-openpipes-signature': `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`,
  };
}

/**
 * Streams `chunk` as a chunked body and never finishes it: the answer can only come from a server
 * that refuses the body without waiting for (or buffering) all of it.
 */
export function postUnfinished(url: string, chunk: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers))
          if (typeof value === 'string') headers.set(name, value);
        resolve({ status: res.statusCode ?? 0, headers, text, json: JSON.parse(text) });
        req.destroy();
      });
    });
    req.on('error', reject);
    req.write(chunk);
  });
}
