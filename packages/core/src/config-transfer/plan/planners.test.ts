/** Each entity kind's planner alone, on a small target, through the context the kinds share. */
import { describe, expect, it } from 'vitest';
import { type AlertChannelConfig, successRateSchema, volumeAnomalySchema } from '../../alerts/schemas.js';
import { isPipesError } from '../../errors.js';
import { type EventType, type Secret, sourceSchema } from '../../schemas.js';
import { type ConfigDocument, configDocumentSchema } from '../document.js';
import { targetSnapshot } from '../snapshot.test-support.js';
import { planAlertChannels } from './alert-channels.js';
import { checkDocument } from './check.js';
import { canonical, compareStep } from './compare.js';
import { createPlanContext } from './context.js';
import { planDestinations } from './destinations.js';
import { planEventTypes } from './event-types.js';
import { planPipes } from './pipes.js';
import { planSecrets } from './secrets.js';
import { planSources } from './sources.js';

const at = '2026-05-04T10:00:00.000Z';
const base = { version: 1, created_at: at, updated_at: at };
const secret = (id: string, key: string, description?: string): Secret =>
  ({
    id,
    key,
    value_version: 1,
    value_updated_at: at,
    ...base,
    ...(description ? { description } : {}),
  }) as Secret;

const doc = (fields: Partial<Record<keyof ConfigDocument, unknown>>): ConfigDocument =>
  configDocumentSchema.parse({ format: 'openpipes-config', version: 1, exported_at: at, ...fields });

const send = 'async function send() { return {}; }';

describe('import planners, one per kind', () => {
  it('secrets: updates a description, leaves an equal one, and records an absent key as needed', () => {
    const ctx = createPlanContext(
      targetSnapshot({ secrets: [secret('sec_1', 'A', 'old'), secret('sec_2', 'B')] }),
    );
    planSecrets(
      doc({ secrets: [{ key: 'A', description: 'new' }, { key: 'B' }, { key: 'C' }] }).secrets,
      ctx,
    );
    expect(ctx.steps).toEqual([
      {
        kind: 'secret',
        name: 'A',
        id: 'sec_1',
        action: 'update',
        fields: ['description'],
        data: { description: 'new' },
      },
      { kind: 'secret', name: 'B', id: 'sec_2', action: 'unchanged' },
    ]);
    expect([...ctx.needed]).toEqual([['C', []]]);
  });

  it('event types: creates with the schema to compile, and compiles again only a changed schema', () => {
    const existing = { id: 'ety_1', name: 'purchase', schema: { type: 'object' }, ...base } as EventType;
    const ctx = createPlanContext(targetSnapshot({ eventTypes: [existing] }));
    planEventTypes(
      doc({
        event_types: [
          { name: 'purchase', schema: { type: 'object' } },
          { name: 'lead', schema: { type: 'object', required: ['email'] } },
        ],
      }).event_types,
      ctx,
    );
    expect(ctx.steps.map((s) => [s.name, s.action, s.schema])).toEqual([
      ['purchase', 'unchanged', undefined],
      ['lead', 'create', { type: 'object', required: ['email'] }],
    ]);
  });

  it('sources: skips a new source whose auth secret is missing, keeps the auth of an existing one', () => {
    const web = sourceSchema.parse({
      id: 'src_1',
      name: 'Web',
      slug: 'web',
      auth: { type: 'none' },
      ...base,
    });
    const ctx = createPlanContext(targetSnapshot({ sources: [web], secrets: [secret('sec_9', 'HOOK')] }));
    const auth = { type: 'bearer', secret: 'TOKEN' };
    planSources(
      doc({
        sources: [
          { name: 'Web', slug: 'web', auth },
          { name: 'Backend', slug: 'backend', auth },
          { name: 'Hooks', slug: 'hooks', auth: { type: 'hmac', secret: 'HOOK', tolerance_seconds: 60 } },
        ],
      }).sources,
      ctx,
    );
    expect(ctx.steps.map((s) => [s.name, s.action])).toEqual([
      ['web', 'unchanged'],
      ['backend', 'skip'],
      ['hooks', 'create'],
    ]);
    expect(ctx.steps[0]!.note).toBe('auth unchanged until secret TOKEN exists');
    expect(ctx.steps[2]!.data!.auth).toEqual({ type: 'hmac', secret_id: 'sec_9', tolerance_seconds: 60 });
    expect([...ctx.needed]).toEqual([['TOKEN', ['source web', 'source backend']]]);
    expect([...ctx.sourceIds]).toEqual([
      ['web', 'src_1'],
      ['backend', null],
      ['hooks', 'new:source:hooks'],
    ]);
  });

  it('destinations: binds existing secrets, holds the destination disabled until all exist, compiles send()', () => {
    const ctx = createPlanContext(targetSnapshot({ secrets: [secret('sec_1', 'TOKEN')] }));
    planDestinations(
      doc({ destinations: [{ name: 'meta', send, secrets: ['TOKEN', 'PIXEL'], enabled: true }] })
        .destinations,
      ctx,
    );
    const [step] = ctx.steps;
    expect(step).toMatchObject({
      action: 'create',
      data: { secret_ids: ['sec_1'], enabled: false },
      compile: { kind: 'send', code: send },
      note: 'kept disabled until PIXEL has a value; create it, then import again',
    });
    expect(ctx.destinationIds.get('meta')).toBe('new:destination:meta');
  });

  it('pipes: wires to placeholder ids, skips a pipe whose source is skipped, compiles a transform', () => {
    const ctx = createPlanContext(targetSnapshot());
    ctx.sourceIds.set('web', 'new:source:web').set('backend', null);
    ctx.destinationIds.set('meta', 'dst_1');
    const transform = 'function transform({ events }) { return events; }';
    planPipes(
      doc({
        pipes: [
          { name: 'a', source: 'web', destination: 'meta', transform },
          { name: 'b', source: 'backend', destination: 'meta', transform: null },
        ],
      }).pipes,
      ctx,
    );
    expect(ctx.steps[0]).toMatchObject({
      action: 'create',
      data: { source_id: 'new:source:web', destination_id: 'dst_1' },
      compile: { kind: 'transform', code: transform },
    });
    expect(ctx.steps[1]).toMatchObject({ action: 'skip', note: 'its source backend is skipped' });
    expect([...ctx.pipeIds]).toEqual([
      ['a', 'new:pipe:a'],
      ['b', null],
    ]);
  });

  it('alert channels: need a URL secret or an existing channel, and skip when a watched pipe is skipped', () => {
    const existing = {
      id: 'alc_1',
      name: 'ops',
      type: 'slack',
      url_secret_id: 'sec_own',
      enabled: true,
      pipe_ids: [],
      kinds: ['pipe_failing'],
      cooldown_seconds: 600,
      failure_rate: { threshold: 0.25, window_seconds: 300, min_events: 20 },
      volume_anomaly: volumeAnomalySchema.parse({}),
      success_rate: successRateSchema.parse({}),
      ...base,
    } as AlertChannelConfig;
    const ctx = createPlanContext(
      targetSnapshot({ channels: [existing], secrets: [secret('sec_u', 'SHARED_URL')] }),
    );
    ctx.pipeIds.set('a', 'pip_1').set('b', null);
    planAlertChannels(
      doc({
        alert_channels: [
          {
            name: 'ops',
            type: 'slack',
            url_secret: null,
            pipes: [],
            kinds: ['pipe_failing'],
            cooldown_seconds: 60,
          },
          { name: 'new-no-url', type: 'teams', url_secret: null, pipes: [] },
          { name: 'new-shared', type: 'webhook', url_secret: 'SHARED_URL', pipes: ['a'] },
          { name: 'new-missing', type: 'webhook', url_secret: 'OTHER_URL', pipes: [] },
          { name: 'watches-skipped', type: 'slack', url_secret: 'SHARED_URL', pipes: ['b'] },
        ],
      }).alert_channels,
      ctx,
    );
    expect(ctx.steps.map((s) => [s.name, s.action])).toEqual([
      ['ops', 'update'],
      ['new-no-url', 'skip'],
      ['new-shared', 'create'],
      ['new-missing', 'skip'],
      ['watches-skipped', 'skip'],
    ]);
    expect(ctx.steps[0]).toMatchObject({ fields: ['cooldown_seconds'], data: { cooldown_seconds: 60 } });
    expect(ctx.steps[1]!.note).toContain('its webhook URL is not exported');
    expect(ctx.steps[2]!.data).toMatchObject({ url_secret_id: 'sec_u', pipe_ids: ['pip_1'] });
    expect(ctx.steps[4]!.note).toBe('it watches pipes that are skipped: b');
    expect([...ctx.needed]).toEqual([['OTHER_URL', ['alert channel new-missing']]]);
  });

  it('compares canonically: key order does not matter, an optional field removed is an update', () => {
    expect(canonical({ b: 1, a: { d: 2, c: 3 } })).toBe(canonical({ a: { c: 3, d: 2 }, b: 1 }));
    const existing = { id: 'x_1', name: 'n', description: 'old', schema: { a: 1, b: 2 } };
    expect(
      compareStep('event_type', 'n', existing, { name: 'n', description: 'old', schema: { b: 2, a: 1 } }),
    ).toEqual({ kind: 'event_type', name: 'n', id: 'x_1', action: 'unchanged' });
    expect(compareStep('event_type', 'n', existing, { name: 'n', schema: { a: 1, b: 2 } })).toMatchObject({
      action: 'update',
      fields: ['description'],
    });
  });

  it('refuses duplicate keys and dangling references, listing every problem', () => {
    const bad = doc({
      secrets: [{ key: 'A' }, { key: 'A' }],
      pipes: [{ name: 'p', source: 'nowhere', destination: 'nobody', transform: null }],
      alert_channels: [{ name: 'c', type: 'slack', url_secret: null, pipes: ['ghost'] }],
    });
    try {
      checkDocument(bad, targetSnapshot());
      expect.unreachable();
    } catch (err) {
      expect(isPipesError(err) && err.code).toBe('VALIDATION_FAILED');
      const issues = (err as { details: { issues: Array<{ path: string }> } }).details.issues;
      expect(issues.map((i) => i.path)).toEqual([
        'secrets[1]',
        'pipes[0].source',
        'pipes[0].destination',
        'alert_channels[0].pipes',
      ]);
    }
  });
});
