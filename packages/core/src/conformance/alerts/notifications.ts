/** Alert scenarios: Slack, Teams and a generic webhook told once, folded, recovered; a dead channel beside live deliveries. */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { settled, waitFor } from '../../testing/helpers.js';
import { purchaseEvent } from '../../testing/meta-example.js';
import { checkSlackMessage, checkTeamsMessage, slackStandIn, teamsStandIn } from '../../testing/stand-ins.js';
import { startTestServer } from '../../testing/test-server.js';
import {
  type AlertCases,
  type PlatformMode,
  platform,
  platformToken,
  randomPath,
  recordingLogger,
} from './fixtures.js';

// long-function: one list of it() cases sharing the alert suite's engine, stand-in servers and setup; every store runs it
export function notificationCases(t: AlertCases): void {
  const { engine, server, dbName, setupPipe } = t;
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
    expect(facts.map((f) => f.title)).toEqual(['Pipe', 'Destination', 'Count', 'Example delivery', 'Since']);
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
}
