/**
 * `openpipes serve`'s logger (real pino, the serve options) over a full scripted run on a real
 * engine and server: a source with a bearer secret (one request with a wrong token), a destination
 * with secrets whose platform fails once with a 500 echoing the token and then delivers on retry,
 * an alert channel whose URL is a secret. Every field reaches pino; every line about a delivery
 * names its pipe, destination, delivery id and trace id; and no secret value, its base64, its
 * URL-encoding or any 8-character piece of it appears anywhere in the whole log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, type Delivery } from '@openpipes/core';
import {
  exampleAccessToken,
  examplePixelId,
  metaLikeAnswer,
  settled,
  setupMetaExample,
  startTestServer,
  type TestServer,
  testSecretKey,
  waitFor,
} from '@openpipes/core/testing';
import { createHandler } from '@openpipes/http';
import { createNodeListener } from '@openpipes/http/node';
import { sqliteStore } from '@openpipes/store-sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { createCliLogger, prettyLine } from '../src/serve/logger.js';

const sourceToken = 'src-bearer-Zq8Lr2Wm5Tx9Kp3V';
const alertPath = `/hooks/T0AB12CD/${'Hk7Qw2Xe9Rt4Yu6Io1Pa'}`;

/** Everything an attacker could grep for: the value, its encodings, and every 8-character piece. */
function leaksOf(secret: string): string[] {
  const forms = new Set([
    secret,
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('base64url'),
    encodeURIComponent(secret),
  ]);
  for (let i = 0; i + 8 <= secret.length; i++) forms.add(secret.slice(i, i + 8));
  return [...forms];
}

describe('serve logs through pino', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-logs-'));
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every field, names the delivery on each of its lines, and never shows a piece of a secret', async () => {
    const lines: string[] = [];
    const logger = createCliLogger({ format: 'json', level: 'debug', write: (line) => lines.push(line) });
    let failures = 1;
    const meta = await startTestServer((request) => {
      if (failures-- > 0) {
        const body = request.json as { access_token?: string };
        return { status: 500, body: { error: { message: `backend error for token ${body.access_token}` } } };
      }
      return metaLikeAnswer(request);
    });
    const hook = await startTestServer(() => ({ status: 200, body: { ok: true } }));
    servers.push(meta, hook);
    const pipes = createPipes({
      store: sqliteStore({ filename: join(dir, 'logs.db') }),
      secretKey: testSecretKey,
      logger,
      egressAllow: [meta.host, hook.host],
      sandbox: { workers: 1 },
      dispatcher: { pollIntervalMs: 50 },
      alerts: { flushIntervalMs: 100 },
    });
    const { source, pipe, destination } = await setupMetaExample(pipes, meta, {
      retry: { initial_delay_ms: 50, multiplier: 1, max_attempts: 5 },
    });
    const bearer = await pipes.secrets.create({ key: 'WEB_BEARER', value: sourceToken });
    await pipes.sources.update(source.id, { auth: { type: 'bearer', secret_id: bearer.id } });
    await pipes.alerts.channels.create({
      name: 'pager',
      type: 'webhook',
      url: `${hook.url}${alertPath}`,
      kinds: ['pipe_failing'],
    });
    await pipes.start();
    const server: Server = createServer(createNodeListener(createHandler(pipes, { logger })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let delivery: Delivery | undefined;
    try {
      const post = (token: string) =>
        fetch(`${url}/collect/web`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({
            event_id: 'ord_log1',
            event_type: 'purchase',
            event_time: new Date().toISOString(),
            event_payload: { order_id: 'ord_log1', revenue: 10, currency: 'EUR', email: 'a@example.com' },
          }),
        });
      expect((await post(`${sourceToken}-wrong`)).status).toBe(401);
      expect((await post(sourceToken)).status).toBe(202);
      [delivery] = await settled(pipes, pipe.id, 1);
      expect(delivery).toMatchObject({ status: 'delivered', attempt_count: 2 });
      await waitFor(() => hook.requests.length >= 1, 15_000, 'the failure alert');
      await pipes.idle();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pipes.stop();
      await pipes.store.close();
    }

    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    // pino wrote every line, with level names and every field.
    expect(entries.every((e) => typeof e.level === 'string' && typeof e.time === 'string')).toBe(true);
    const about = entries.filter((e) => e.delivery_id === delivery!.id);
    expect(about.map((e) => [e.level, e.message, e.status])).toEqual([
      ['info', 'delivery retrying', 'retrying'],
      ['debug', 'delivery delivered', 'delivered'],
    ]);
    for (const entry of about) {
      expect(entry).toMatchObject({
        pipe: 'purchase-to-meta',
        pipe_id: pipe.id,
        destination: 'meta-capi-prod',
        destination_id: destination.id,
        delivery_id: delivery!.id,
      });
      expect(entry).toHaveProperty('trace_id', null);
    }
    expect(about[0]).toMatchObject({ error_code: 'HTTP_500', attempt: 1 });
    expect(String(about[0]!.error)).toContain('[secret:META_ACCESS_TOKEN]');

    // The whole log, both formats: no secret in any form.
    const log = lines.join('') + lines.map(prettyLine).join('');
    const secrets = [exampleAccessToken, examplePixelId, sourceToken, alertPath.slice(1), testSecretKey];
    for (const secret of secrets) {
      for (const leak of leaksOf(secret)) expect(log, `a piece of a secret: ${leak}`).not.toContain(leak);
    }
  });

  it('censors secret-named fields a careless caller passes', () => {
    const lines: string[] = [];
    const logger = createCliLogger({ format: 'json', level: 'info', write: (line) => lines.push(line) });
    logger.info({ token: 'tok_live_1', headers: { authorization: 'Bearer x' }, pipe: 'p' }, 'careless');
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      message: 'careless',
      token: '[redacted]',
      headers: { authorization: '[redacted]' },
      pipe: 'p',
    });
    expect(prettyLine(lines[0]!)).toMatch(/^\d\d:\d\d:\d\d INFO {2}careless {2}token=\[redacted\]/);
  });
});
