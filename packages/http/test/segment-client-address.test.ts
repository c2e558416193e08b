/**
 * A Segment message without `context.ip` gets the sender's address (issue 18): the connection's peer,
 * or, behind a proxy the operator trusts (`trustedProxies`), the client `X-Forwarded-For` names.
 * Over node:http on port 0 with a real SQLite file.
 */
import { createServer, type Server } from 'node:http';
import type { Pipes } from '@openpipes/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type HandlerOptions } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { closeServer, listen, type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

describe('Segment messages without context.ip', { timeout: 60_000 }, () => {
  let engine: SqliteEngine;
  let pipes: Pipes;
  const servers: Server[] = [];
  let direct: string;
  let behindProxy: string;
  let sourceId: string;
  let key: string;

  const serve = async (options: HandlerOptions) => {
    const server = createServer(createNodeListener(createHandler(pipes, { segment: true, ...options })));
    servers.push(server);
    return `http://127.0.0.1:${await listen(server)}`;
  };

  beforeAll(async () => {
    engine = await startSqliteEngine('segment-ip');
    pipes = engine.pipes;
    await pipes.eventTypes.create({ name: 'page_view', schema: { type: 'object' } });
    sourceId = (await pipes.sources.create({ name: 'Web', slug: 'web' })).id;
    key = (await pipes.writeKeys.create(sourceId)).write_key;
    direct = await serve({});
    behindProxy = await serve({ trustedProxies: ['127.0.0.1'] });
  });
  afterAll(async () => {
    for (const server of servers) await closeServer(server);
    await engine?.stop();
  });

  /** Sends one page message and answers the `ip` its stored event carries. */
  const ipOf = async (
    base: string,
    messageId: string,
    extra: { headers?: Record<string, string>; ip?: string } = {},
  ) => {
    const response = await fetch(`${base}/v1/p`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', ...extra.headers },
      body: JSON.stringify({
        writeKey: key,
        type: 'page',
        messageId,
        anonymousId: 'anon-ip',
        context: extra.ip ? { ip: extra.ip } : {},
      }),
    });
    expect(response.status).toBe(200);
    const { data } = await pipes.sources.events(sourceId, { limit: 100 });
    const event = data.find((e) => e.event_id === messageId);
    if (!event) throw new Error(`message ${messageId} was not stored`);
    return (event.event_payload as { ip?: string }).ip;
  };

  it("takes the connection's address, and ignores X-Forwarded-For from a peer nobody trusts", async () => {
    expect(await ipOf(direct, 'msg-ip-1')).toBe('127.0.0.1');
    expect(await ipOf(direct, 'msg-ip-2', { headers: { 'x-forwarded-for': '203.0.113.7' } })).toBe(
      '127.0.0.1',
    );
  });

  it('takes the client X-Forwarded-For names when the peer is a trusted proxy', async () => {
    expect(
      await ipOf(behindProxy, 'msg-ip-3', { headers: { 'x-forwarded-for': '1.2.3.4, 203.0.113.7' } }),
    ).toBe('203.0.113.7');
  });

  it("keeps the message's own context.ip", async () => {
    expect(
      await ipOf(behindProxy, 'msg-ip-4', {
        ip: '198.51.100.9',
        headers: { 'x-forwarded-for': '203.0.113.7' },
      }),
    ).toBe('198.51.100.9');
  });
});
