/** Alert scenarios: every mutation in the audit trail with its actor, and no secret value anywhere. */
import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import type { AuditEntry } from '../../schemas.js';
import { settled } from '../../testing/helpers.js';
import { purchaseEvent, purchaseSchema } from '../../testing/meta-example.js';
import { slackStandIn } from '../../testing/stand-ins.js';
import {
  type AlertCases,
  type PlatformMode,
  platform,
  platformSend,
  platformToken,
  randomPath,
} from './fixtures.js';

// long-function: one list of it() cases sharing the alert suite's engine, stand-in servers and setup; every store runs it
export function auditTrailCases(t: AlertCases): void {
  const { options, engine, server, dbName } = t;
  // long-function: one scenario: every kind of mutation in turn, each noted in expected, then the whole trail checked against it
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
    expect((await pipes.audit.list({ since: new Date(Date.now() + 60_000).toISOString() })).data).toEqual([]);
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
}
