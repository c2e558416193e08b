/**
 * The node adapters answer `POST /collect/:slug` straight from the `IncomingMessage` (the direct
 * path, `Route.handleDirect`), every other request through a fetch `Request`. This suite sends the
 * same bytes, good and bad, to the direct path (node:http and Express) and to the fetch path (the
 * same handler wrapped so that it has no direct answerer) and asks for the same answer from each:
 * status, headers, body, and the log lines the request left.
 */
import { createServer, type Server } from 'node:http';
import type { Pipes } from '@openpipes/core';
import { purchaseSchema, waitFor } from '@openpipes/core/testing';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directAnswerer, directAnswererOf } from '../src/direct.js';
import { createExpressMiddleware } from '../src/express.js';
import { createHandler, type OpenPipesHandler } from '../src/index.js';
import { createNodeListener, hardenServer } from '../src/node.js';
import {
  type Case,
  cases,
  collectToken,
  fixture,
  hmacKey,
  json,
  maxBodyBytes,
  prefix,
  web,
} from './direct-path-cases.js';
import { exchange, openRaw, type RawAnswer } from './raw.js';
import { captureLogger } from './servers.js';
import { closeServer, listen, type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

type PathName = 'fetch' | 'node' | 'express';

let engine: SqliteEngine | undefined;
let pipes: Pipes;
let logger: ReturnType<typeof captureLogger>;
const ports = {} as Record<PathName, number>;
const serverOf = {} as Record<PathName, Server>;
const servers: Server[] = [];
/** Requests the direct answerer took (it resolves null for the ones it leaves to the fetch path). */
let directAnswers = 0;

/** Listens on a free loopback port, and remembers the server to close it after the tests. */
async function listenTracked(server: Server): Promise<number> {
  servers.push(server);
  return listen(server);
}

beforeAll(async () => {
  logger = captureLogger();
  engine = await startSqliteEngine('direct', { logger, roles: ['ingest'] });
  pipes = engine.pipes;
  await pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema });
  const token = await pipes.secrets.create({ key: 'COLLECT_TOKEN', value: collectToken });
  const signing = await pipes.secrets.create({ key: 'COLLECT_HMAC_KEY', value: hmacKey });
  const destination = await pipes.destinations.create({
    name: 'sink',
    send: 'async function send() { return { outcome: "delivered" }; }',
  });
  for (const input of [
    { name: 'Shop', slug: 'shop', allowed_origins: ['https://shop.example'] },
    { name: 'Backend', slug: 'backend', auth: { type: 'bearer' as const, secret_id: token.id } },
    {
      name: 'Signed',
      slug: 'signed',
      auth: { type: 'hmac' as const, secret_id: signing.id, tolerance_seconds: 60 },
    },
    { name: 'Off', slug: 'off' },
    { name: 'Site', slug: 'site', first_party_cookies: true },
  ]) {
    const source = await pipes.sources.create(input);
    const pipe = await pipes.pipes.create({
      name: `${input.slug}-pipe`,
      source_id: source.id,
      destination_id: destination.id,
    });
    await pipes.pipes.enable(pipe.id);
    if (input.slug === 'off') await pipes.sources.disable(source.id);
    if (input.slug === 'shop') fixture.writeKey = (await pipes.writeKeys.create(source.id)).write_key;
  }

  const handler = createHandler(pipes, {
    logger,
    metrics: {},
    segment: true,
    collect: { maxBodyBytes, maxEvents: 5, maxDepth: 8 },
  });
  const direct = directAnswererOf(handler)!;
  // Counts the requests the direct path answered, so a case cannot pass by going the fetch way twice.
  const counted = Object.assign((request: Request, context?: object) => handler(request, context), {
    matches: handler.matches,
    [directAnswerer]: async (...args: Parameters<typeof direct>) => {
      const answer = await direct(...args);
      if (answer) directAnswers++;
      return answer;
    },
  }) as OpenPipesHandler;
  // The same handler without its direct answerer: the adapters take the fetch path.
  const fetchOnly = Object.assign((request: Request, context?: object) => handler(request, context), {
    matches: handler.matches,
  }) as OpenPipesHandler;

  const app = express();
  app.disable('x-powered-by'); // Express' own header, not the handler's
  app.use(prefix, createExpressMiddleware(counted));
  serverOf.fetch = hardenServer(createServer(createNodeListener(fetchOnly, { basePath: prefix })));
  serverOf.node = hardenServer(createServer(createNodeListener(counted, { basePath: prefix })));
  serverOf.express = hardenServer(createServer(app));
  for (const path of ['fetch', 'node', 'express'] as const) ports[path] = await listenTracked(serverOf[path]);
});

afterAll(async () => {
  await Promise.all(servers.map(closeServer));
  await engine?.stop();
});

/** What must be equal between paths: generated ids and the date are masked. */
function comparable(answer: RawAnswer, label: string) {
  const mask = (text: string) =>
    text
      .replaceAll(label, '<label>')
      .replace(/(evt|evd)_[0-9A-Za-z]{20,}/g, '$1_<id>')
      .replace(/req_[0-9a-f-]{36}/g, 'req_<id>');
  const headers = Object.fromEntries(
    Object.entries(answer.headers)
      .filter(([name]) => name !== 'date')
      .map(([name, value]) => [name, mask(value)]),
  );
  // Masked ids can change the length; the lengths are compared before masking.
  return {
    status: answer.status,
    headers,
    body: mask(answer.body),
    length: answer.headers['content-length'],
  };
}

/** Sends a case to one path; resolves with its comparable answer and the log lines it left. */
async function send(path: PathName, c: Case, n: number) {
  // As long for every path, so that answers quoting it are as long.
  const label = `${path.slice(0, 1)}${String(n).padStart(3, '0')}`;
  const requestId = `direct-test-${label}`;
  const bytes = c.bytes(label);
  const withId = c.name.includes('X-Request-Id')
    ? bytes
    : Buffer.from(bytes.toString('latin1').replace('\r\n', `\r\nX-Request-Id: ${requestId}\r\n`), 'latin1');
  const before = logger.lines.length;
  const { answer, text } = await exchange(ports[path], withId);
  expect(answer, `${path}: ${c.name}`).not.toBeNull();
  // The parsed headers keep one value per name; cookies are compared line by line.
  const cookies = text
    .slice(0, text.indexOf('\r\n\r\n'))
    .split('\r\n')
    .filter((line) => /^set-cookie:/i.test(line));
  const lines = logger.lines
    .slice(before)
    .filter((line) => line.includes('OpenPipes HTTP'))
    .map((line) => line.replaceAll(requestId, '<request id>').replace(/req_[0-9a-f-]{36}/g, 'req_<id>'));
  return { answer: { ...comparable(answer!, label), cookies }, lines };
}

describe('the direct path answers collect as the fetch path does', () => {
  it.each(cases.map((c, n) => [c.name, c, n] as const))('%s', async (_name, c, n) => {
    const taken = directAnswers;
    const fetched = await send('fetch', c, n);
    expect(directAnswers).toBe(taken);
    expect({ status: fetched.answer.status, code: JSON.parse(fetched.answer.body).error?.code }).toEqual({
      status: c.status,
      code: c.code,
    });
    if (c.cookies !== undefined) expect(fetched.answer.cookies).toHaveLength(c.cookies);
    for (const path of ['node', 'express'] as const) {
      const direct = await send(path, c, n);
      expect(direct.answer, path).toEqual(fetched.answer);
      expect(direct.lines, path).toEqual(fetched.lines);
    }
    expect(directAnswers).toBe(taken + 2);
  });

  it('leaves other routes, and methods other than POST, to the fetch path', async () => {
    const taken = directAnswers;
    for (const bytes of [
      'GET /openpipes/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'PUT /openpipes/collect/shop HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      'POST /openpipes/api/sources HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      'POST /elsewhere/collect/shop HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
    ]) {
      const fetched = await exchange(ports.fetch, bytes);
      const direct = await exchange(ports.node, bytes);
      expect(direct.answer?.status).toBe(fetched.answer?.status);
    }
    expect(directAnswers).toBe(taken);
  });

  it('logs a client that leaves mid-body as the fetch path does (499, CLIENT_CLOSED)', async () => {
    const abandoned = async (path: PathName) => {
      const requestId = `direct-test-left-${path}`;
      const socket = await openRaw(ports[path]);
      // The connection closes once the request has reached the adapter, half of its body sent.
      const arrived = new Promise((resolve) => serverOf[path].once('request', () => setImmediate(resolve)));
      socket.write(
        `POST ${web} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: ${requestId}\r\n${json}\r\nContent-Length: 1000\r\n\r\n[{"event_type":`,
      );
      await arrived;
      socket.destroy();
      const line = await waitFor(
        () => logger.lines.find((l) => l.includes(requestId) && l.includes('CLIENT_CLOSED')),
        10_000,
        `the abandoned request's log line (${path})`,
      );
      return line.replace(requestId, '<request id>');
    };
    const fetched = await abandoned('fetch');
    expect(JSON.parse(fetched)).toMatchObject({ status: 499, code: 'CLIENT_CLOSED' });
    expect(await abandoned('node')).toBe(fetched);
    expect(await abandoned('express')).toBe(fetched);
  });
});
