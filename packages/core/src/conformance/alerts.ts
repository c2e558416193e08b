/**
 * long-file: one scenario suite every store runs; the scenarios share the stand-in servers and the engine
 *
 * Operator safety-net scenarios every store runs: failure alerts to Slack, Teams and a generic
 * webhook (stand-ins on 127.0.0.1 that check the documented message formats), noise control and
 * recovery, a dead alert channel next to live deliveries, the audit trail with actors, versions and
 * revert, and API keys. Real store, real sandbox, real HTTP.
 *
 * Why over 500 lines: a conformance suite is its list of end-to-end cases around one set of
 * fixtures (engine, stand-in servers, cleanup); each case reads top to bottom as one scenario.
 * Tests that show "nothing more was sent" await `pipes.idle()`, never a sleep.
 *
 * ```ts
 * runEngineAlerts({ name: 'sqlite', openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }) });
 * ```
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipes, type Pipes, type PipesOptions } from '../engine.js';
import { isPipesError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AuditEntry } from '../schemas.js';
import { settled, stopAndClose, testSecretKey, waitFor } from '../testing/helpers.js';
import { purchaseEvent, purchaseSchema } from '../testing/meta-example.js';
import { checkSlackMessage, checkTeamsMessage, slackStandIn, teamsStandIn } from '../testing/stand-ins.js';
import {
  type RecordedTestRequest,
  startTestServer,
  type TestResponse,
  type TestServer,
} from '../testing/test-server.js';
import type { EngineConformanceOptions } from './engine.js';

// ---------------------------------------------------------------------------------------------
// Scenarios

const platformToken = 'plat-secret-token-9d8c7b6a5f4e3d2c';

/** A send() that posts the batch with a bearer token and leaves the verdict to the HTTP status. */
const platformSend = (url: string, path = '/events') => `async function send({ events, secrets }) {
  const res = await fetch('${url}${path}', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' + secrets.PLATFORM_TOKEN },
    body: JSON.stringify({ data: events.map((e) => e.event_payload) }),
  });
  return res.json();
}`;

type PlatformMode = 'ok' | 'reject' | 'down';

/** A platform that accepts, rejects (400, echoing the token as some platforms do) or is down (503). */
function platform(mode: { current: PlatformMode }) {
  return (request: RecordedTestRequest): TestResponse => {
    const rows = (request.json as { data?: unknown[] } | undefined)?.data?.length ?? 0;
    if (mode.current === 'ok') return { status: 200, body: { events_received: rows } };
    if (mode.current === 'down')
      return { status: 503, body: { error: { message: 'Service temporarily unavailable' } } };
    const token = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
    return { status: 400, body: { error: { message: `Invalid OAuth access token: ${token}`, code: 190 } } };
  };
}

const randomPath = () => `/services/T0AB12CD/B0EF34GH/${randomBytes(18).toString('base64url')}`;

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (fields: Record<string, unknown>, message?: string) => {
    lines.push(JSON.stringify({ level, message, ...fields }));
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

export function runEngineAlerts(options: EngineConformanceOptions): void {
  describe(`alerts, audit trail, versions and API keys on ${options.name}`, () => {
    const open: Pipes[] = [];
    const servers: TestServer[] = [];
    let counter = 0;
    const dbName = () => `alerts_${process.pid}_${Date.now().toString(36)}_${counter++}`;

    const engine = async (db: string, extra: Partial<PipesOptions> = {}, egress: string[] = []) => {
      const pipes = createPipes({
        store: await options.openStore(db),
        secretKey: testSecretKey,
        logger: recordingLogger(),
        sandbox: { workers: 1 },
        egressAllow: egress,
        dispatcher: { pollIntervalMs: 50 },
        alerts: { flushIntervalMs: 100, timeoutMs: 2000 },
        ...extra,
      });
      open.push(pipes);
      return pipes;
    };
    const server = async (handler: Parameters<typeof startTestServer>[0]) => {
      const s = await startTestServer(handler);
      servers.push(s);
      return s;
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((p) => stopAndClose(p, { graceMs: 2000 }).catch(() => {})));
      await Promise.all(servers.splice(0).map((s) => s.close()));
      await options.cleanup?.();
    });

    /** Source `web`, the purchase type, the token secret, one enabled destination and pipe. */
    async function setupPipe(
      pipes: Pipes,
      platformUrl: string,
      destination: { retry?: Record<string, number>; max_batch_size?: number } = {},
    ) {
      const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema });
      const token = await pipes.secrets.create({ key: 'PLATFORM_TOKEN', value: platformToken });
      const dest = await pipes.destinations.create({
        name: 'platform-prod',
        send: platformSend(platformUrl),
        secret_ids: [token.id],
        max_batch_size: destination.max_batch_size ?? 100,
        ...(destination.retry ? { retry: { ...destination.retry } } : {}),
      });
      const pipe = await pipes.pipes.create({
        name: 'purchase-to-platform',
        source_id: source.id,
        destination_id: dest.id,
      });
      await pipes.pipes.enable(pipe.id);
      await pipes.destinations.enable(dest.id);
      return { source, destination: dest, pipe, token };
    }

    it('alerts Slack once when a pipe starts failing, folds the next failures, and sends a recovery', async () => {
      const mode = { current: 'reject' as PlatformMode };
      const api = await server(platform(mode));
      const slack = await server(slackStandIn);
      const pipes = await engine(dbName(), { publicBaseUrl: 'https://pipes.example.com/' }, [
        api.host,
        slack.host,
      ]);
      const { pipe } = await setupPipe(pipes, api.url);
      const hookPath = randomPath();
      const channel = await pipes.alerts.channels.create({
        name: 'ops-slack',
        type: 'slack',
        url: `${slack.url}${hookPath}`,
        cooldown_seconds: 60,
      });
      await pipes.start();

      await pipes.ingest('web', purchaseEvent('ord_1'));
      const [failed] = await settled(pipes, pipe.id, 1);
      expect(failed?.status).toBe('failed');
      await pipes.idle();
      expect(slack.requests).toHaveLength(1);
      const first = slack.requests[0]!;
      expect(first.url).toBe(hookPath);
      expect(checkSlackMessage(first.json)).toEqual([]);
      expect(first.text).toContain('Pipe \\"purchase-to-platform\\" is failing');
      expect(first.text).toContain('platform-prod');
      expect(first.text).toContain('Invalid OAuth access token: [secret:PLATFORM_TOKEN]');
      expect(first.text).not.toContain(platformToken);
      expect(first.text).toContain(
        `<https://pipes.example.com/api/event-deliveries/${failed!.id}|${failed!.id}>`,
      );

      // Three more failures inside the cooldown: folded, no message.
      await pipes.ingest('web', [purchaseEvent('ord_2'), purchaseEvent('ord_3'), purchaseEvent('ord_4')]);
      await settled(pipes, pipe.id, 4);
      // Every batch recorded, every alert evaluated and sent: nothing more can come of them.
      await pipes.idle();
      expect(slack.requests).toHaveLength(1);

      // The platform takes events again: one recovery closes the incident, with the folded count.
      mode.current = 'ok';
      await pipes.ingest('web', purchaseEvent('ord_5'));
      await settled(pipes, pipe.id, 5);
      await pipes.idle();
      expect(slack.requests).toHaveLength(2);
      const recovery = slack.requests[1]!;
      expect(checkSlackMessage(recovery.json)).toEqual([]);
      expect(recovery.text).toContain('delivers again');
      expect(recovery.text).toContain('4 failed deliveries (3 not reported before)');
      await pipes.ingest('web', purchaseEvent('ord_6'));
      await settled(pipes, pipe.id, 6);
      await pipes.idle();
      expect(slack.requests).toHaveLength(2);

      const health = await pipes.alerts.channels.get(channel.id);
      expect(health).toMatchObject({
        consecutive_failures: 0,
        failure_count: 0,
        last_delivery: { ok: true, status: 200 },
      });
      expect(JSON.stringify(health)).not.toContain(hookPath);
    });

    it('alerts Teams with an Adaptive Card when deliveries go dead', async () => {
      const api = await server(platform({ current: 'down' }));
      const teams = await server(teamsStandIn);
      const pipes = await engine(dbName(), {}, [api.host, teams.host]);
      const { pipe } = await setupPipe(pipes, api.url, { retry: { max_attempts: 1 } });
      await pipes.alerts.channels.create({
        name: 'ops-teams',
        type: 'teams',
        url: `${teams.url}/workflows/abc/triggers/manual/paths/invoke?sig=${randomBytes(12).toString('hex')}`,
        kinds: ['delivery_dead'],
        cooldown_seconds: 60,
      });
      await pipes.start();
      await pipes.ingest('web', [purchaseEvent('ord_d1'), purchaseEvent('ord_d2')]);
      const deliveries = await settled(pipes, pipe.id, 2);
      expect(deliveries.every((d) => d.status === 'dead')).toBe(true);
      await pipes.idle();
      expect(teams.requests).toHaveLength(1);
      const message = teams.requests[0]!;
      expect(checkTeamsMessage(message.json)).toEqual([]);
      const card = (
        message.json as { attachments: Array<{ content: { body: Array<Record<string, unknown>> } }> }
      ).attachments[0]!.content;
      expect(card.body[0]).toMatchObject({
        type: 'TextBlock',
        text: '2 deliveries of pipe "purchase-to-platform" went dead',
      });
      const facts = card.body.find((b) => b.type === 'FactSet')!.facts as Array<{
        title: string;
        value: string;
      }>;
      expect(facts.map((f) => f.title)).toEqual([
        'Pipe',
        'Destination',
        'Count',
        'Example delivery',
        'Since',
      ]);
      expect(deliveries.map((d) => d.id)).toContain(facts[3]!.value);
      expect(message.text).toContain('HTTP 503');
    });

    it('alerts a generic webhook when the circuit breaker pauses a destination, and when it resumes', async () => {
      const mode = { current: 'down' as PlatformMode };
      const api = await server(platform(mode));
      const hook = await server(() => ({ status: 200, body: { status: 'accepted' } }));
      const pipes = await engine(
        dbName(),
        {
          dispatcher: {
            pollIntervalMs: 50,
            breakerThreshold: 2,
            breakerInitialPauseMs: 300,
            breakerMaxPauseMs: 600,
          },
        },
        [api.host, hook.host],
      );
      const { pipe, destination } = await setupPipe(pipes, api.url, {
        max_batch_size: 1,
        retry: { initial_delay_ms: 50, multiplier: 1, max_attempts: 100 },
      });
      await pipes.alerts.channels.create({
        name: 'pager',
        type: 'webhook',
        url: `${hook.url}/integration/${randomBytes(12).toString('hex')}`,
        kinds: ['destination_paused'],
        cooldown_seconds: 60,
      });
      await pipes.start();
      await pipes.ingest('web', [purchaseEvent('ord_b1'), purchaseEvent('ord_b2'), purchaseEvent('ord_b3')]);
      await waitFor(() => hook.requests.length >= 1, 15_000, 'the pause alert');
      const paused = hook.requests[0]!.json as Record<string, unknown>;
      expect(paused).toMatchObject({
        source: 'openpipes',
        schema_version: 1,
        event_action: 'trigger',
        kind: 'destination_paused',
        status: 'firing',
        destination: { id: destination.id, name: 'platform-prod' },
        pipe: { id: pipe.id, name: 'purchase-to-platform' },
        count: 1,
        channel: { name: 'pager' },
      });
      expect((paused.error as { message: string }).message).toContain('HTTP 503');
      expect(typeof paused.example_delivery_id).toBe('string');
      expect(typeof paused.paused_until).toBe('string');

      mode.current = 'ok';
      await settled(pipes, pipe.id, 3, 20_000);
      await pipes.idle();
      expect(hook.requests).toHaveLength(2);
      const resumed = hook.requests[1]!.json as Record<string, unknown>;
      expect(resumed).toMatchObject({
        event_action: 'resolve',
        kind: 'destination_resumed',
        status: 'resolved',
      });
      expect(resumed.dedup_key).toBe(paused.dedup_key);
    });

    // Real time, slow (~10 s): a channel that hangs and one that refuses, against real sockets; its
    // bounds are far from both outcomes (see below), so load cannot flip them.
    it('a dead alert channel does not slow deliveries, and its own failures are visible', async () => {
      const events = 30;
      const run = async (withChannels: boolean) => {
        const api = await server(platform({ current: 'reject' }));
        const hanging = await server(() => ({ status: 200, delayMs: 60_000 }));
        const closed = await startTestServer();
        const closedUrl = closed.url;
        const closedHost = closed.host;
        await closed.close();
        const logger = recordingLogger();
        const pipes = await engine(
          dbName(),
          { logger, alerts: { timeoutMs: 800, queueSize: 2, flushIntervalMs: 100 } },
          [api.host, hanging.host, closedHost],
        );
        const { pipe } = await setupPipe(pipes, api.url, { max_batch_size: 1 });
        const paths = { hanging: randomPath(), closed: randomPath() };
        const channels = withChannels
          ? {
              hanging: await pipes.alerts.channels.create({
                name: 'hanging',
                type: 'slack',
                url: `${hanging.url}${paths.hanging}`,
                cooldown_seconds: 0,
              }),
              closed: await pipes.alerts.channels.create({
                name: 'closed',
                type: 'teams',
                url: `${closedUrl}${paths.closed}`,
                cooldown_seconds: 0,
              }),
            }
          : null;
        await pipes.start();
        const started = Date.now();
        for (let i = 0; i < events; i++) await pipes.ingest('web', purchaseEvent(`ord_s${i}`));
        await settled(pipes, pipe.id, events, 30_000);
        const elapsed = Date.now() - started;
        return { pipes, channels, elapsed, logger, paths, hanging };
      };

      const alerted = await run(true);
      // A delivery path that waited on the hanging channel would take 30 × 800 ms = 24 s; this
      // bound is far from both that and a normal run, whatever else the machine is doing (it was
      // 3 × a baseline run + 3 s, which a lucky fast baseline made tight).
      expect(alerted.elapsed).toBeLessThan(15_000);

      const { pipes, channels, logger, paths } = alerted;
      const closedHealth = await waitFor(async () => {
        const c = await pipes.alerts.channels.get(channels!.closed.id);
        return c.consecutive_failures >= 1 ? c : null;
      });
      expect(closedHealth.last_delivery).toMatchObject({ ok: false, status: null });
      expect(closedHealth.last_delivery?.error).toContain('ECONNREFUSED');
      const hangingHealth = await waitFor(async () => {
        const c = await pipes.alerts.channels.get(channels!.hanging.id);
        return c.consecutive_failures >= 1 ? c : null;
      });
      expect(hangingHealth.last_delivery?.error).toBe('timed out after 800 ms');
      expect(hangingHealth.dropped_count).toBeGreaterThan(0);
      expect(logger.lines.some((l) => l.includes('alert channel delivery failed'))).toBe(true);
      const everything = JSON.stringify([
        logger.lines,
        await pipes.alerts.channels.list(),
        await pipes.audit.list({ limit: 1000 }),
      ]);
      expect(everything).not.toContain(paths.closed);
      expect(everything).not.toContain(paths.hanging);

      // Stopping does not wait out a channel that hangs (it would hold the stop for 60 s).
      const stopStarted = Date.now();
      await pipes.stop({ graceMs: 1000 });
      expect(Date.now() - stopStarted).toBeLessThan(20_000);
    });

    it('records every mutation in the audit trail with its actor, and no secret value anywhere', async () => {
      const mode = { current: 'reject' as PlatformMode };
      const api = await server(platform(mode));
      const slack = await server(slackStandIn);
      const db = dbName();
      const pipes = await engine(db, {}, [api.host, slack.host]);
      let request = 0;
      const as = (actor: string) => ({ actor, requestId: `req_${++request}` });
      const expected: Array<{ action: string; kind: string; id: string; actor: string }> = [];
      const expect1 = (action: string, kind: string, id: string, actor = 'alice') =>
        expected.push({ action, kind, id, actor });

      const source = await pipes.sources.create({ name: 'Web', slug: 'web' }, as('alice'));
      expect1('create', 'source', source.id);
      await pipes.sources.update(source.id, { name: 'Website' }, as('alice'));
      expect1('update', 'source', source.id);
      // A source starts enabled: enabling it again writes nothing, disabling it does; a retried
      // enable or disable (a client that timed out and tried again) changes nothing more.
      expect((await pipes.sources.enable(source.id, as('alice'))).version).toBe(2);
      await pipes.sources.disable(source.id, as('alice'));
      expect1('toggle', 'source', source.id);
      expect(await pipes.sources.disable(source.id, as('alice'))).toMatchObject({
        enabled: false,
        version: 3,
      });
      await pipes.sources.enable(source.id, as('alice'));
      expect(await pipes.sources.enable(source.id, as('alice'))).toMatchObject({ enabled: true, version: 4 });
      const type = await pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema }, as('alice'));
      expect1('create', 'event_type', type.id);
      await pipes.eventTypes.update(type.id, { description: 'Orders' }, as('alice'));
      expect1('update', 'event_type', type.id);
      const token = await pipes.secrets.create({ key: 'PLATFORM_TOKEN', value: platformToken }, as('alice'));
      expect1('create', 'secret', token.id);
      const rotated = 'plat-rotated-token-0f1e2d3c4b5a6978';
      await pipes.secrets.updateValue(token.id, rotated, as('bob'));
      expect1('rotate', 'secret', token.id, 'bob');
      await pipes.secrets.update(token.id, { description: 'Platform token' }, as('alice'));
      expect1('update', 'secret', token.id);
      const spare = await pipes.secrets.create(
        { key: 'SPARE', value: 'spare-secret-value-7a6b5c4d3e' },
        as('alice'),
      );
      expect1('create', 'secret', spare.id);
      await pipes.secrets.delete(spare.id, as('alice'));
      expect1('delete', 'secret', spare.id);
      const dest = await pipes.destinations.create(
        { name: 'platform-prod', send: platformSend(api.url) },
        as('alice'),
      );
      expect1('create', 'destination', dest.id);
      await pipes.destinations.bindSecrets(dest.id, [token.id], as('alice'));
      expect1('bind_secrets', 'destination', dest.id);
      await pipes.destinations.update(dest.id, { max_batch_size: 50 }, as('alice'));
      expect1('update', 'destination', dest.id);
      await pipes.destinations.enable(dest.id, as('alice'));
      expect1('toggle', 'destination', dest.id);
      await pipes.destinations.revert(dest.id, 3, as('carol'));
      expect1('revert:3', 'destination', dest.id, 'carol');
      await pipes.destinations.enable(dest.id, as('alice'));
      expect1('toggle', 'destination', dest.id);
      const pipe = await pipes.pipes.create(
        { name: 'purchase-to-platform', source_id: source.id, destination_id: dest.id },
        as('alice'),
      );
      expect1('create', 'pipe', pipe.id);
      await pipes.pipes.enable(pipe.id, as('alice'));
      expect1('toggle', 'pipe', pipe.id);
      await pipes.pipes.update(pipe.id, { description: 'v3' }, as('alice'));
      expect1('update', 'pipe', pipe.id);
      await pipes.pipes.revert(pipe.id, 2, as('alice'));
      expect1('revert:2', 'pipe', pipe.id);
      const key = await pipes.apiKeys.create({ name: 'ci', scope: 'write' }, as('alice'));
      expect1('create', 'api_key', key.id);
      await pipes.apiKeys.revoke(key.id, as('alice'));
      expect1('revoke', 'api_key', key.id);
      const hookPath = randomPath();
      const channel = await pipes.alerts.channels.create(
        { name: 'ops-slack', type: 'slack', url: `${slack.url}${hookPath}`, pipe_ids: [pipe.id] },
        as('alice'),
      );
      expect1('create', 'alert_channel', channel.id);
      expect1('create', 'secret', channel.url_secret_id);
      const newHookPath = randomPath();
      await pipes.alerts.channels.update(
        channel.id,
        { url: `${slack.url}${newHookPath}`, cooldown_seconds: 60 },
        as('alice'),
      );
      expect1('update', 'alert_channel', channel.id);
      expect1('rotate', 'secret', channel.url_secret_id);
      await pipes.alerts.channels.disable(channel.id, as('alice'));
      expect1('toggle', 'alert_channel', channel.id);
      expect((await pipes.alerts.channels.test(channel.id, as('alice'))).ok).toBe(true);
      expect1('test', 'alert_channel', channel.id);
      expect(slack.requests.at(-1)?.url).toBe(newHookPath);

      // A replay is a mutation too.
      await pipes.start();
      await pipes.ingest('web', purchaseEvent('ord_a1'));
      await settled(pipes, pipe.id, 1);
      mode.current = 'ok';
      const replay = await pipes.deliveries.replay(pipe.id, {}, as('dave'));
      expect(replay.count).toBe(1);
      expect1('replay', 'pipe', pipe.id, 'dave');

      const trail = (await pipes.audit.list({ limit: 1000 })).data;
      for (const e of expected) {
        const found = trail.find(
          (entry) =>
            entry.action === e.action &&
            entry.entity_kind === e.kind &&
            entry.entity_id === e.id &&
            entry.actor === e.actor,
        );
        expect(found, `${e.action} ${e.kind} ${e.id} by ${e.actor}`).toBeDefined();
        expect(found!.request_id).toMatch(/^req_\d+$/);
      }
      expect(trail.every((entry) => entry.actor !== null)).toBe(true);
      // Setting the state a source already had wrote no version and no audit entry.
      expect(trail.filter((e) => e.action === 'toggle' && e.entity_id === source.id)).toHaveLength(2);
      expect((await pipes.sources.versions(source.id)).map((v) => v.data.enabled)).toEqual([
        true,
        true,
        false,
        true,
      ]);
      const replayEntry = trail.find((entry) => entry.action === 'replay')!;
      expect(replayEntry.after).toMatchObject({ count: 1, ids: replay.ids, statuses: ['failed', 'dead'] });

      // Filters and pages.
      expect((await pipes.audit.list({ actor: 'bob' })).data.map((e) => e.action)).toEqual(['rotate']);
      const pipeTrail = (await pipes.audit.list({ entity_kind: 'pipe', entity_id: pipe.id })).data;
      expect(pipeTrail.map((e) => e.action)).toEqual(['replay', 'revert:2', 'update', 'toggle', 'create']);
      const seen: AuditEntry[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await pipes.audit.list({ limit: 4, ...(cursor ? { cursor } : {}) });
        seen.push(...page.data);
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      expect(seen.map((e) => e.id)).toEqual(trail.map((e) => e.id));
      expect((await pipes.audit.list({ since: new Date(Date.now() + 60_000).toISOString() })).data).toEqual(
        [],
      );
      await expect(pipes.audit.list({ limit: 0 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });

      // No secret value in the trail, in versions, in any API output, or in the database file.
      const secrets = [
        platformToken,
        rotated,
        'spare-secret-value-7a6b5c4d3e',
        hookPath,
        newHookPath,
        key.token,
      ];
      const everything = JSON.stringify([
        trail,
        await pipes.sources.versions(source.id),
        await pipes.eventTypes.versions(type.id),
        await pipes.secrets.versions(token.id),
        await pipes.secrets.list(),
        await pipes.destinations.versions(dest.id),
        await pipes.pipes.versions(pipe.id),
        await pipes.alerts.channels.versions(channel.id),
        await pipes.alerts.channels.list(),
        await pipes.apiKeys.list(),
        await pipes.apiKeys.get(key.id),
        await pipes.deliveries.list(pipe.id),
        await pipes.deliveries.get(replay.ids[0]!),
      ]);
      for (const secret of secrets) expect(everything).not.toContain(secret);
      expect(everything).not.toContain(createHash('sha256').update(key.token).digest('hex'));
      if (options.rawDump) {
        const raw = await options.rawDump(db);
        expect(raw).toContain('ord_a1');
        for (const secret of secrets) expect(raw).not.toContain(secret);
      }
    });

    it('versions sources, event types and destinations like pipes; a reverted send() runs on the next delivery', async () => {
      const api = await server(platform({ current: 'ok' }));
      const pipes = await engine(dbName(), {}, [api.host]);
      const { source, destination, pipe } = await setupPipe(pipes, api.url);

      await pipes.sources.update(source.id, { name: 'Website' });
      expect((await pipes.sources.versions(source.id)).map((v) => v.data.name)).toEqual(['Web', 'Website']);
      expect((await pipes.sources.revert(source.id, 1)).name).toBe('Web');
      const type = (await pipes.eventTypes.list()).data[0]!;
      await pipes.eventTypes.update(type.id, { description: 'Orders' });
      expect((await pipes.eventTypes.revert(type.id, 1)).description).toBeUndefined();
      expect(await pipes.eventTypes.versions(type.id)).toHaveLength(3);

      // v1 → bind → toggle → v4 posts to /v2.
      const v1 = (await pipes.destinations.versions(destination.id))[0]!;
      expect(v1.data.send).toContain('/events');
      const changed = await pipes.destinations.update(destination.id, {
        send: platformSend(api.url, '/v2/events'),
      });
      await pipes.start();
      await pipes.ingest('web', purchaseEvent('ord_v2'));
      const [first] = await settled(pipes, pipe.id, 1);
      expect(api.requests.at(-1)?.url).toBe('/v2/events');
      expect(first).toMatchObject({
        status: 'delivered',
        destination_version: changed.version,
        pipe_version: pipe.version + 1,
      });

      // Revert to the version that was running before the change: its send() runs next.
      const before = changed.version - 1;
      const reverted = await pipes.destinations.revert(destination.id, before, { actor: 'oncall' });
      expect(reverted.version).toBe(changed.version + 1);
      expect(reverted.send).toBe(v1.data.send);
      expect(reverted.enabled).toBe(true);
      await pipes.ingest('web', purchaseEvent('ord_v1'));
      const deliveries = await settled(pipes, pipe.id, 2);
      expect(api.requests.at(-1)?.url).toBe('/events');
      const second = deliveries.find((d) => d.event_id === 'ord_v1')!;
      expect(second).toMatchObject({ status: 'delivered', destination_version: reverted.version });
      const versions = await pipes.destinations.versions(destination.id);
      expect(versions.at(-1)).toMatchObject({ version: reverted.version, actor: 'oncall' });
      const [entry] = (await pipes.audit.list({ entity_id: destination.id, limit: 1 })).data;
      expect(entry).toMatchObject({ action: `revert:${before}`, actor: 'oncall' });
      expect(entry!.before).toMatchObject({ send: platformSend(api.url, '/v2/events') });
      expect(entry!.after).toMatchObject({ send: v1.data.send });
    });

    it('API keys: the token is shown once, verifies until revoked, and only its digest is stored', async () => {
      const db = dbName();
      const pipes = await engine(db);
      const created = await pipes.apiKeys.create({ name: 'ci', scope: 'write' }, { actor: 'admin' });
      const { token, ...key } = created;
      expect(token).toMatch(/^opk_[A-Za-z0-9_-]{43}$/);
      expect(key).toMatchObject({ name: 'ci', scope: 'write', revoked_at: null, version: 1 });
      expect(key.token_hint).toBe(`${token.slice(0, 8)}…`);
      expect(JSON.stringify(await pipes.apiKeys.get(key.id))).not.toContain(token);
      expect(JSON.stringify(await pipes.apiKeys.list())).not.toContain(token);

      expect(await pipes.apiKeys.verify(token)).toEqual({ id: key.id, name: 'ci', scope: 'write' });
      expect(
        await pipes.apiKeys.verify(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`),
      ).toBeNull();
      expect(await pipes.apiKeys.verify('')).toBeNull();
      expect(await pipes.apiKeys.verify('Bearer nonsense')).toBeNull();
      const reader = await pipes.apiKeys.create({ name: 'dashboards', scope: 'read' });
      expect(await pipes.apiKeys.verify(reader.token)).toMatchObject({ name: 'dashboards', scope: 'read' });

      const clash = await pipes.apiKeys.create({ name: 'ci', scope: 'read' }).catch((err) => err);
      expect(isPipesError(clash) && clash.code).toBe('CONFLICT');
      const revoked = await pipes.apiKeys.revoke(key.id, { actor: 'admin' });
      expect(revoked.revoked_at).not.toBeNull();
      expect(await pipes.apiKeys.verify(token)).toBeNull();
      expect((await pipes.apiKeys.revoke(key.id)).version).toBe(revoked.version);
      // The name is free again once the old key is revoked; the revoked one stays listed.
      const rotatedKey = await pipes.apiKeys.create({ name: 'ci', scope: 'write' });
      expect(await pipes.apiKeys.verify(rotatedKey.token)).toMatchObject({ id: rotatedKey.id });
      const listed = (await pipes.apiKeys.list()).data;
      expect(listed.map((k) => [k.name, k.revoked_at === null])).toEqual([
        ['ci', false],
        ['dashboards', true],
        ['ci', true],
      ]);
      await expect(pipes.apiKeys.get('key_missing')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(pipes.apiKeys.create({ name: 'x', scope: 'admin' as never })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });

      const trail = (await pipes.audit.list({ entity_kind: 'api_key' })).data;
      expect(trail.filter((e) => e.actor === 'admin').map((e) => e.action)).toEqual(['revoke', 'create']);
      const digest = createHash('sha256').update(token).digest('hex');
      expect(JSON.stringify(trail)).not.toContain(token);
      expect(JSON.stringify(trail)).not.toContain(digest);
      if (options.rawDump) {
        const raw = await options.rawDump(db);
        expect(raw).not.toContain(token);
        expect(raw).not.toContain(reader.token);
        expect(raw).toContain(digest);
      }
    });

    it('keeps channel URLs secret, refuses what the egress guard refuses, and cleans up after a channel', async () => {
      const slack = await server(slackStandIn);
      const blocked = await server(slackStandIn);
      const hook = await server(() => ({ status: 200, body: { ok: true } }));
      const logger = recordingLogger();
      const pipes = await engine(dbName(), { logger }, [slack.host, hook.host]);
      const hookPath = randomPath();

      const both = await pipes.alerts.channels
        .create({ name: 'x', type: 'slack', url: `${slack.url}${hookPath}`, url_secret_id: 'sec_x' })
        .catch((err) => err);
      expect(both).toMatchObject({ code: 'VALIDATION_FAILED' });
      const bad = await pipes.alerts.channels
        .create({ name: 'x', type: 'slack', url: `ftp://host${hookPath}` })
        .catch((e) => e);
      expect(bad).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(JSON.stringify({ message: bad.message, details: bad.details })).not.toContain(hookPath);
      expect((await pipes.secrets.list()).data).toEqual([]);

      const channel = await pipes.alerts.channels.create({
        name: 'ops',
        type: 'slack',
        url: `${slack.url}${hookPath}`,
      });
      expect(channel).toMatchObject({
        kinds: ['pipe_failing', 'delivery_dead', 'failure_rate', 'destination_paused'],
        pipe_ids: [],
        cooldown_seconds: 900,
        enabled: true,
        last_delivery: null,
        failure_count: 0,
      });
      expect(JSON.stringify(channel)).not.toContain(hookPath);
      const test = await pipes.alerts.channels.test(channel.id);
      expect(test).toMatchObject({ ok: true, status: 200, error: null });
      expect(checkSlackMessage(slack.requests[0]!.json)).toEqual([]);
      expect(slack.requests[0]!.text).toContain('Test alert from OpenPipes');

      // The channel's URL secret cannot be deleted from under it.
      const conflict = await pipes.secrets.delete(channel.url_secret_id).catch((err) => err);
      expect(conflict).toMatchObject({ code: 'CONFLICT' });

      // A loopback address the operator did not allow is refused before any connection.
      const refused = await pipes.alerts.channels.update(channel.id, { url: `${blocked.url}${hookPath}` });
      expect((await pipes.secrets.get(refused.url_secret_id)).value_version).toBe(2);
      const denied = await pipes.alerts.channels.test(channel.id);
      expect(denied).toMatchObject({ ok: false, status: null });
      expect(denied.error).toContain('loopback');
      expect(blocked.requests).toHaveLength(0);
      expect((await pipes.alerts.channels.get(channel.id)).consecutive_failures).toBe(1);
      expect(logger.lines.join('\n')).not.toContain(hookPath);

      // Bound to an existing secret instead; deleting a channel removes only the secret it made.
      const shared = await pipes.secrets.create({
        key: 'PAGER_URL',
        value: `${hook.url}/pager/${randomBytes(8).toString('hex')}`,
      });
      const pager = await pipes.alerts.channels.create({
        name: 'pager',
        type: 'webhook',
        url_secret_id: shared.id,
      });
      expect((await pipes.alerts.channels.test(pager.id)).ok).toBe(true);
      expect(hook.requests[0]!.json).toMatchObject({
        source: 'openpipes',
        kind: 'test',
        event_action: 'trigger',
      });
      await pipes.alerts.channels.delete(channel.id);
      await pipes.alerts.channels.delete(pager.id);
      expect((await pipes.secrets.list()).data.map((s) => s.key)).toEqual(['PAGER_URL']);
      await expect(pipes.alerts.channels.get(channel.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });
}
