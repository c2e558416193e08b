import { describe, expect, it } from 'vitest';
import { type AlertChannelConfig, successRateSchema, volumeAnomalySchema } from '../alerts/schemas.js';
import { isPipesError } from '../errors.js';
import {
  type Destination,
  type EventType,
  type Pipe,
  type Secret,
  type Source,
  sourceSchema,
} from '../schemas.js';
import {
  buildConfigDocument,
  type ConfigDocument,
  type ConfigSnapshot,
  configDocumentSchema,
  planConfigImport,
} from './index.js';
import { targetSnapshot } from './snapshot.test-support.js';

const at = '2026-05-04T10:00:00.000Z';
const base = { version: 1, created_at: at, updated_at: at };

function staging(): ConfigSnapshot {
  const secrets: Secret[] = [
    {
      id: 'sec_1',
      key: 'META_ACCESS_TOKEN',
      description: 'Meta CAPI pixel token',
      value_version: 1,
      value_updated_at: at,
      ...base,
    },
    { id: 'sec_2', key: 'META_PIXEL_ID', value_version: 1, value_updated_at: at, ...base },
    { id: 'sec_3', key: 'COLLECT_TOKEN', value_version: 1, value_updated_at: at, ...base },
    { id: 'sec_4', key: 'ALERT_CHANNEL_URL_1', value_version: 1, value_updated_at: at, ...base },
  ];
  const eventTypes: EventType[] = [
    { id: 'ety_1', name: 'purchase', schema: { type: 'object', required: ['order_id'] }, ...base },
  ];
  // Sources with every setting at its default but auth.
  const sources: Source[] = [
    sourceSchema.parse({ id: 'src_1', name: 'Web', slug: 'web', auth: { type: 'none' }, ...base }),
    sourceSchema.parse({
      id: 'src_2',
      name: 'Backend',
      slug: 'backend',
      auth: { type: 'bearer', secret_id: 'sec_3' },
      ...base,
    }),
  ];
  const retry = {
    max_attempts: 10,
    max_age_seconds: 86400,
    initial_delay_ms: 2000,
    multiplier: 4,
    max_delay_ms: 21600000,
  };
  const destinations: Destination[] = [
    {
      id: 'dst_1',
      name: 'meta-capi-prod',
      send: 'async function send({ events, secrets }) { return {}; }',
      secret_ids: ['sec_1', 'sec_2'],
      enabled: true,
      max_batch_size: 1000,
      concurrency: 2,
      rate_limit_per_second: 0,
      retry,
      ...base,
    },
  ];
  const pipes: Pipe[] = [
    {
      id: 'pip_1',
      name: 'purchase-to-meta',
      source_id: 'src_1',
      destination_id: 'dst_1',
      transform: 'function transform({ events }) { return events; }',
      enabled: true,
      consent: null,
      ...base,
    },
    {
      id: 'pip_2',
      name: 'backend-to-meta',
      source_id: 'src_2',
      destination_id: 'dst_1',
      transform: null,
      enabled: true,
      consent: null,
      ...base,
    },
  ];
  const channels: AlertChannelConfig[] = [
    {
      id: 'alc_1',
      name: 'ops-slack',
      type: 'slack',
      url_secret_id: 'sec_4',
      enabled: true,
      pipe_ids: ['pip_1'],
      kinds: ['pipe_failing', 'delivery_dead'],
      cooldown_seconds: 600,
      failure_rate: { threshold: 0.25, window_seconds: 300, min_events: 20 },
      volume_anomaly: volumeAnomalySchema.parse({}),
      success_rate: successRateSchema.parse({}),
      ...base,
    },
  ];
  return { secrets, eventTypes, sources, destinations, pipes, channels };
}

const roundTrip = (doc: ConfigDocument) => configDocumentSchema.parse(JSON.parse(JSON.stringify(doc)));

describe('config export', () => {
  it('names secrets, sources and destinations by key, never by id, and never a value or a channel URL', () => {
    const doc = buildConfigDocument(staging(), at);
    expect(doc.secrets.map((s) => s.key)).toEqual(['COLLECT_TOKEN', 'META_ACCESS_TOKEN', 'META_PIXEL_ID']);
    expect(doc.destinations[0]?.secrets).toEqual(['META_ACCESS_TOKEN', 'META_PIXEL_ID']);
    expect(doc.sources.find((s) => s.slug === 'backend')?.auth).toEqual({
      type: 'bearer',
      secret: 'COLLECT_TOKEN',
    });
    expect(doc.pipes.map((p) => [p.name, p.source, p.destination])).toEqual([
      ['backend-to-meta', 'backend', 'meta-capi-prod'],
      ['purchase-to-meta', 'web', 'meta-capi-prod'],
    ]);
    expect(doc.alert_channels[0]).toMatchObject({
      name: 'ops-slack',
      url_secret: null,
      pipes: ['purchase-to-meta'],
    });
    expect(JSON.stringify(doc)).not.toMatch(/"(id|secret_ids|source_id|destination_id|url_secret_id)"/);
  });

  it('is accepted by the document schema', () => {
    expect(() => roundTrip(buildConfigDocument(staging(), at))).not.toThrow();
  });
});

describe('config import plan', () => {
  it('plans nothing against the instance it was exported from (idempotent)', () => {
    const doc = roundTrip(buildConfigDocument(staging(), at));
    const plan = planConfigImport(doc, staging());
    expect(plan.missing).toEqual([]);
    expect(plan.steps.filter((s) => s.action !== 'unchanged')).toEqual([]);
  });

  it('against an empty target: creates in dependency order, names the missing secrets, holds back what needs them', () => {
    const doc = roundTrip(buildConfigDocument(staging(), at));
    const plan = planConfigImport(doc, targetSnapshot());
    const summary = plan.steps.map((s) => `${s.action} ${s.kind} ${s.name}`);
    expect(summary).toEqual([
      'missing secret COLLECT_TOKEN',
      'missing secret META_ACCESS_TOKEN',
      'missing secret META_PIXEL_ID',
      'create event_type purchase',
      'skip source backend',
      'create source web',
      'create destination meta-capi-prod',
      'skip pipe backend-to-meta',
      'create pipe purchase-to-meta',
      'skip alert_channel ops-slack',
    ]);
    expect(plan.missing).toEqual([
      { key: 'COLLECT_TOKEN', needed_by: ['source backend'] },
      {
        key: 'META_ACCESS_TOKEN',
        description: 'Meta CAPI pixel token',
        needed_by: ['destination meta-capi-prod'],
      },
      { key: 'META_PIXEL_ID', needed_by: ['destination meta-capi-prod'] },
    ]);
    const destination = plan.steps.find((s) => s.kind === 'destination')!;
    expect(destination.data).toMatchObject({ enabled: false, secret_ids: [] });
    expect(destination.note).toMatch(/kept disabled until META_ACCESS_TOKEN, META_PIXEL_ID have values/);
    expect(plan.steps.find((s) => s.kind === 'pipe' && s.action === 'create')?.data).toMatchObject({
      source_id: 'new:source:web',
      destination_id: 'new:destination:meta-capi-prod',
    });
    expect(plan.steps.find((s) => s.kind === 'alert_channel')?.note).toMatch(
      /openpipes alerts create --name ops-slack --type slack --url-stdin/,
    );
  });

  it('once the secrets exist, binds them and enables the destination', () => {
    const doc = roundTrip(buildConfigDocument(staging(), at));
    const target = staging();
    target.destinations[0] = { ...target.destinations[0]!, enabled: false, secret_ids: [] };
    const plan = planConfigImport(doc, target);
    const step = plan.steps.find((s) => s.kind === 'destination')!;
    expect(step).toMatchObject({ action: 'update', fields: ['enabled', 'secret_ids'] });
    expect(step.data).toEqual({ enabled: true, secret_ids: ['sec_1', 'sec_2'] });
  });

  it('updates only the fields that differ, and compiles only code that changed', () => {
    const doc = roundTrip(buildConfigDocument(staging(), at));
    doc.pipes[1]!.transform = 'function transform({ events }) { return []; }';
    doc.destinations[0]!.max_batch_size = 500;
    const plan = planConfigImport(doc, staging());
    const changed = plan.steps.filter((s) => s.action !== 'unchanged');
    expect(changed.map((s) => [s.kind, s.name, s.fields])).toEqual([
      ['destination', 'meta-capi-prod', ['max_batch_size']],
      ['pipe', 'purchase-to-meta', ['transform']],
    ]);
    expect(changed[0]?.compile).toBeUndefined();
    expect(changed[1]?.compile).toEqual({ kind: 'transform', code: doc.pipes[1]!.transform });
  });

  it('removes an optional field the document no longer has', () => {
    const doc = roundTrip(buildConfigDocument(staging(), at));
    delete doc.secrets[1]!.description;
    const step = planConfigImport(doc, staging()).steps.find((s) => s.name === 'META_ACCESS_TOKEN')!;
    expect(step).toMatchObject({ action: 'update', fields: ['description'] });
  });

  it('refuses references to nothing and duplicate names, listing each', () => {
    const doc = roundTrip(buildConfigDocument(staging(), at));
    doc.pipes.push({ ...doc.pipes[0]!, source: 'app', destination: 'tiktok' });
    let error: unknown;
    try {
      planConfigImport(doc, targetSnapshot());
    } catch (err) {
      error = err;
    }
    expect(isPipesError(error) && error.code).toBe('VALIDATION_FAILED');
    expect((error as { details: { issues: unknown[] } }).details.issues).toEqual([
      { path: 'pipes[2]', message: 'backend-to-meta appears twice' },
      { path: 'pipes[2].source', message: 'no source with slug app' },
      { path: 'pipes[2].destination', message: 'no destination named tiktok' },
    ]);
  });

  it('refuses a document of another version or format', () => {
    expect(configDocumentSchema.safeParse({ format: 'openpipes-config', version: 2 }).success).toBe(false);
    expect(configDocumentSchema.safeParse({ version: 1 }).success).toBe(false);
    expect(configDocumentSchema.parse({ format: 'openpipes-config', version: 1 }).pipes).toEqual([]);
  });
});
