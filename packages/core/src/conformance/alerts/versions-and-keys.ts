/** Alert scenarios: versions and revert, API keys, and channel URLs kept secret. */
import { createHash, randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { isPipesError } from '../../errors.js';
import { settled } from '../../testing/helpers.js';
import { purchaseEvent } from '../../testing/meta-example.js';
import { checkSlackMessage, slackStandIn } from '../../testing/stand-ins.js';
import { type AlertCases, platform, platformSend, randomPath, recordingLogger } from './fixtures.js';

// long-function: one list of it() cases sharing the alert suite's engine, stand-in servers and setup; every store runs it
export function versionAndKeyCases(t: AlertCases): void {
  const { options, engine, server, dbName, setupPipe } = t;
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
    expect(await pipes.apiKeys.verify(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBeNull();
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
}
