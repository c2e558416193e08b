/**
 * A destination that fails below HTTP: its TLS certificate is refused (self-signed, expired) or its
 * host name does not resolve (the name does not exist, or the resolver fails for a while). Each
 * delivery record must show a clear, classified error, and no event may be lost: every accepted
 * event has its delivery, ending delivered, or retried and then dead/failed (and replayable).
 * Real store, real sandbox; the HTTPS stand-ins listen on 127.0.0.1 and DNS answers come from a
 * resolver module (`sandbox.egress.resolver`), so no lookup of any outside name is made.
 *
 * ```ts
 * runEngineDestinationFaults({ name: 'sqlite', openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }) });
 * ```
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Pipes, PipesOptions } from '../engine.js';
import type { Delivery } from '../schemas.js';
import { settled } from '../testing/helpers.js';
import { startTestServer, type TestServerOptions } from '../testing/test-server.js';
import { expiredTls, selfSignedTls } from '../testing/tls.js';
import type { EngineConformanceOptions } from './engine.js';
import { engineHarness, orderEvents, passThroughPipe, postSend } from './harness.js';

// DNS as the sandbox sees it: "gone.platform.test" does not exist; "flaky.platform.test" fails
// temporarily on its first lookup in a worker, then resolves to the loopback stand-in.
const RESOLVER_MODULE = `
let flakyLookups = 0;
export default async function resolve(hostname) {
  const fail = (code) => Object.assign(new Error('getaddrinfo ' + code + ' ' + hostname), { code, hostname });
  if (hostname === 'flaky.platform.test') {
    flakyLookups++;
    if (flakyLookups === 1) throw fail('EAI_AGAIN');
    return [{ address: '127.0.0.1', family: 4 }];
  }
  throw fail('ENOTFOUND');
}
`;

// long-function: one list of it() cases sharing the engine harness set up at its top; every store runs it
export function runEngineDestinationFaults(options: EngineConformanceOptions): void {
  // long-function: the it() cases of the list above, over the harness it sets up
  describe(`destination TLS and DNS failures on ${options.name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'openpipes-resolver-'));
    const resolverFile = join(dir, 'resolver.mjs');
    writeFileSync(resolverFile, RESOLVER_MODULE);

    // One worker, so the resolver module's "first lookup fails" happens exactly once.
    const h = engineHarness(options, {
      prefix: 'faults',
      defaults: { sandbox: { workers: 1, egress: { resolver: resolverFile } } },
    });
    const engine = (egress: string[], extra: Partial<PipesOptions> = {}) =>
      h.engine(h.dbName(), { egressAllow: egress, ...extra });
    const server = async (serverOptions: TestServerOptions = {}) =>
      h.track(await startTestServer(() => ({ body: { ok: true } }), serverOptions));
    /** Source, event type, a destination posting to `url`, a pipe; all enabled. */
    const flow = async (pipes: Pipes, url: string, retry: Record<string, number>) => {
      const { pipe } = await passThroughPipe(pipes, { name: 'platform', send: postSend(url), retry });
      await pipes.start();
      return pipe;
    };
    const ingest = async (pipes: Pipes, ids: string[]) => {
      const result = await pipes.ingest('web', orderEvents(ids));
      expect(result.accepted).toBe(ids.length);
    };
    const records = (pipes: Pipes, deliveries: Delivery[]) =>
      Promise.all(deliveries.map((d) => pipes.deliveries.get(d.id)));

    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each([
      ['self-signed', selfSignedTls, /self-signed certificate.*DEPTH_ZERO_SELF_SIGNED_CERT/],
      ['expired', expiredTls, /certificate has expired.*CERT_HAS_EXPIRED/],
    ] as const)(
      'records a TLS failure (%s certificate) as a retryable TLS error on every attempt, sending nothing',
      async (_name, tls, words) => {
        const platform = await server({ tls });
        const pipes = await engine([platform.host]);
        const pipe = await flow(pipes, `${platform.url}/events`, {
          initial_delay_ms: 10,
          multiplier: 1,
          max_attempts: 2,
        });
        const ids = ['ord_tls_1', 'ord_tls_2'];
        await ingest(pipes, ids);

        const deliveries = await settled(pipes, pipe.id, ids.length);
        expect(deliveries.map((d) => d.event_id).sort()).toEqual(ids);
        for (const record of await records(pipes, deliveries)) {
          // Retried (a certificate is fixed on the platform's side), then dead: kept for a replay.
          expect(record.status).toBe('dead');
          expect(record.attempts?.map((a) => a.status)).toEqual(['retrying', 'dead']);
          for (const attempt of record.attempts ?? []) {
            expect(attempt.error).toMatchObject({ code: 'TLS', retryable: true, stage: 'send' });
            expect(attempt.error?.message).toMatch(words);
            expect(attempt.exchanges[0]?.error?.code).toBe('TLS');
            expect(attempt.response).toBeNull();
          }
        }
        // No request ever went over a connection whose certificate was refused.
        expect(platform.requests).toHaveLength(0);
      },
    );

    it('records a host name that does not exist as DNS_NOT_FOUND, failed at once and replayable', async () => {
      const pipes = await engine([]);
      const pipe = await flow(pipes, 'https://gone.platform.test/events', {
        initial_delay_ms: 10,
        multiplier: 1,
      });
      const ids = ['ord_nx_1', 'ord_nx_2', 'ord_nx_3'];
      await ingest(pipes, ids);

      const deliveries = await settled(pipes, pipe.id, ids.length);
      expect(deliveries.map((d) => d.event_id).sort()).toEqual(ids);
      for (const record of await records(pipes, deliveries)) {
        expect(record.status).toBe('failed');
        expect(record.attempt_count).toBe(1);
        expect(record.error).toMatchObject({ code: 'DNS_NOT_FOUND', retryable: false, stage: 'send' });
        expect(record.error?.message).toContain(
          'could not resolve gone.platform.test: the name does not exist (ENOTFOUND)',
        );
      }
      // Nothing lost: a replay finds every one of them.
      const preview = await pipes.deliveries.replay(pipe.id, { dry_run: true });
      expect(preview.preview?.map((p) => p.event_id).sort()).toEqual(ids);
    });

    it('records an answer nested too deep to walk as its text, delivered once, not sent again', async () => {
      // 20,000 levels parse, but redacting them overflowed the stack: the batch failed as an engine
      // fault after it was sent, and was sent again and again without spending an attempt.
      const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
      const platform = h.track(await startTestServer(() => ({ body: deep })));
      const pipes = await engine([platform.host]);
      // The answer is only recorded: send() reads it as text and returns nothing of it.
      const send = postSend(`${platform.url}/events`).replace('return res.json();', 'await res.text();');
      const { pipe } = await passThroughPipe(pipes, {
        name: 'platform',
        send,
        retry: { initial_delay_ms: 10, multiplier: 1 },
      });
      await pipes.start();
      await ingest(pipes, ['ord_deep_1']);

      const [delivery] = await settled(pipes, pipe.id, 1);
      const record = await pipes.deliveries.get(delivery!.id);
      expect(record.status).toBe('delivered');
      expect(record.attempts?.[0]?.response?.body).toBe(deep);
      expect(platform.requests).toHaveLength(1);
    });

    it('retries a temporary DNS failure (EAI_AGAIN) and delivers once the name resolves', async () => {
      const platform = await server();
      const port = new URL(platform.url).port;
      const pipes = await engine([`flaky.platform.test:${port}`]);
      const pipe = await flow(pipes, `http://flaky.platform.test:${port}/events`, {
        initial_delay_ms: 10,
        multiplier: 1,
      });
      await ingest(pipes, ['ord_dns_1']);

      const [delivery] = await settled(pipes, pipe.id, 1);
      const record = await pipes.deliveries.get(delivery!.id);
      expect(record.status).toBe('delivered');
      expect(record.attempts?.map((a) => a.status)).toEqual(['retrying', 'delivered']);
      expect(record.attempts?.[0]?.error).toMatchObject({ code: 'DNS', retryable: true, stage: 'send' });
      expect(record.attempts?.[0]?.error?.message).toContain('temporary DNS failure (EAI_AGAIN)');
      expect(
        platform.requests.map((r) => (r.json as { data: Array<{ event_id: string }> }).data[0]?.event_id),
      ).toEqual(['ord_dns_1']);
    });
  });
}
