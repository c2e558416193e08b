/**
 * Alerts on levels, on the engine's clock: the volume arithmetic as pure functions, and the
 * monitor's `success_rate` and `volume_anomaly` rules with fake timers, the incident state in a Map
 * and the per-minute volume history in a Map (the real stores run the same rules end to end in the
 * conformance suite `volume-alerts.ts`).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConfigSnapshot } from '../config.js';
import { configDocumentSchema } from '../config-transfer/document.js';
import type { EngineEventMap } from '../events.js';
import type { Destination, Pipe, Source } from '../schemas.js';
import type { VolumeCount } from '../store.js';
import { type AlertMonitorDeps, createAlertMonitor } from './monitor.js';
import { type Alert, type AlertChannelConfig, alertChannelDataSchema } from './schemas.js';
import { countVolume, totalsBySubject, usualLevel, volumeVerdict, volumeWindows } from './volume.js';

const settings = { window_minutes: 15, baseline_days: 7, below: 0.5, above: 3, min_usual: 20 };

describe('volume arithmetic', () => {
  it('compares the last whole minutes, a minute back, with the same clock hour of earlier days', () => {
    const now = Date.parse('2026-03-10T14:37:42Z');
    const { observed, baseline } = volumeWindows(now, settings);
    expect(observed).toEqual({ since: '2026-03-10T14:21:00.000Z', until: '2026-03-10T14:36:00.000Z' });
    expect(baseline).toHaveLength(7);
    expect(baseline[0]).toEqual({ since: '2026-03-09T14:00:00.000Z', until: '2026-03-09T15:00:00.000Z' });
    expect(baseline[6]).toEqual({ since: '2026-03-03T14:00:00.000Z', until: '2026-03-03T15:00:00.000Z' });
  });

  it('averages over the days with history, scaled to the window, and has no verdict without enough of it', () => {
    const day = (web: number) =>
      totalsBySubject([{ source_id: 'src_web', event_type: 'purchase', count: web }]);
    const empty = new Map<string, number>();
    // 240 an hour on the known days = 60 per 15 minutes; an empty day is a day without history.
    const days = [day(240), day(200), day(280), empty, day(240), empty, empty];
    expect(usualLevel(days, 'source:src_web', 15)).toBe(60);
    expect(usualLevel(days, 'event_type:purchase', 15)).toBe(60);
    // A subject absent on a known day counted zero that day.
    expect(
      usualLevel(
        [day(240), totalsBySubject([{ source_id: 'x', event_type: 'y', count: 1 }])],
        'source:src_web',
        60,
      ),
    ).toBe(120);
    expect(usualLevel([day(240), empty, empty], 'source:src_web', 15)).toBeNull();
  });

  it('calls a volume low under the share, high over the multiple, and nothing under min_usual', () => {
    expect(volumeVerdict(29, 60, settings)).toEqual({ state: 'below', observed: 29, usual: 60, limit: 0.5 });
    expect(volumeVerdict(30, 60, settings)).toEqual({ state: 'normal', observed: 30, usual: 60 });
    expect(volumeVerdict(181, 60, settings)).toEqual({ state: 'above', observed: 181, usual: 60, limit: 3 });
    expect(volumeVerdict(181, 60, { ...settings, above: null }).state).toBe('normal');
    expect(volumeVerdict(0, 19, settings)).toEqual({ state: 'unknown' });
    expect(volumeVerdict(0, null, settings)).toEqual({ state: 'unknown' });
  });

  it('counts accepted events per minute, source and event type', () => {
    const pending = new Map<string, VolumeCount>();
    const t = Date.parse('2026-03-10T14:37:42Z');
    countVolume(pending, t, 'src_web', 'purchase', 2);
    countVolume(pending, t + 10_000, 'src_web', 'purchase', 3);
    countVolume(pending, t + 20_000, 'src_web', 'purchase', 1);
    expect([...pending.values()]).toEqual([
      { minute: '2026-03-10T14:37:00.000Z', source_id: 'src_web', event_type: 'purchase', count: 5 },
      { minute: '2026-03-10T14:38:00.000Z', source_id: 'src_web', event_type: 'purchase', count: 1 },
    ]);
  });
});

const config = {
  revision: 1,
  sourcesBySlug: new Map([['web', { id: 'src_web', slug: 'web', enabled: true } as Source]]),
  eventTypes: new Map(),
  pipes: new Map([
    [
      'pip_1',
      { id: 'pip_1', name: 'to-meta', source_id: 'src_web', destination_id: 'dst_1', enabled: true } as Pipe,
    ],
  ]),
  destinations: new Map([['dst_1', { id: 'dst_1', name: 'meta', secret_ids: [] } as unknown as Destination]]),
  enabledPipesBySource: new Map(),
} as ConfigSnapshot;

function setup(channelFields: Record<string, unknown>, extra: Partial<AlertMonitorDeps> = {}) {
  const state = new Map<string, unknown>();
  const volume = new Map<string, VolumeCount>();
  const sent: Alert[] = [];
  const checks: string[] = [];
  const channel = {
    ...alertChannelDataSchema.parse({
      name: 'ops',
      type: 'webhook',
      url_secret_id: 'sec_url',
      cooldown_seconds: 600,
      ...channelFields,
    }),
    id: 'ach_1',
    version: 1,
  } as AlertChannelConfig;
  const monitor = createAlertMonitor({
    store: {
      getState: async ({ key }) => state.get(key) ?? null,
      setState: async ({ key, value }) => void state.set(key, value),
      async addVolume({ counts }) {
        for (const c of counts) {
          countVolume(volume, Date.parse(c.minute), c.source_id, c.event_type, c.count);
        }
      },
      async volumeTotals({ since, until }) {
        checks.push(since);
        const sums = new Map<string, { source_id: string; event_type: string; count: number }>();
        for (const c of volume.values()) {
          if (c.minute < since || c.minute >= until) continue;
          const key = `${c.source_id}/${c.event_type}`;
          const sum = sums.get(key) ?? { source_id: c.source_id, event_type: c.event_type, count: 0 };
          sum.count += c.count;
          sums.set(key, sum);
        }
        return [...sums.values()];
      },
    },
    config: { current: async () => config, invalidate() {} },
    channels: async () => [channel],
    sender: { enqueue: (_target, alert) => sent.push(alert) > 0 },
    resolveSecrets: async () => ({}),
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    now: () => Date.now(),
    publicBaseUrl: null,
    flushIntervalMs: 1000,
    ...extra,
  });
  return { monitor, sent, volume, checks };
}

const outcomes = (delivered: number, failed: number): EngineEventMap['deliveries'] => ({
  destination_id: 'dst_1',
  destination: 'meta',
  outcomes: [
    ...Array.from({ length: delivered }, (_, i) => ({
      id: `d${i}`,
      pipe_id: 'pip_1',
      event_id: `e${i}`,
      status: 'delivered' as const,
      error: null,
    })),
    ...Array.from({ length: failed }, (_, i) => ({
      id: `f${i}`,
      pipe_id: 'pip_1',
      event_id: `g${i}`,
      status: 'retrying' as const,
      error: { code: 'HTTP_503', message: 'unavailable' },
    })),
  ],
});

/** Each test of the suite on a fake clock (Date and the monitor's ticker) at 14:37:42 UTC. */
function onTheEngineClock() {
  beforeEach(() => {
    vi.useFakeTimers({
      now: Date.parse('2026-03-10T14:37:42Z'),
      toFake: ['Date', 'setInterval', 'clearInterval'],
    });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

describe('level alerts on the engine clock', () => {
  onTheEngineClock();

  it('alerts a destination whose success rate is under the threshold only with enough outcomes, and resolves it', async () => {
    const { monitor, sent } = setup({
      kinds: ['success_rate'],
      success_rate: { threshold: 0.9, window_seconds: 60, min_events: 20 },
    });
    // A quiet destination: 2 of 4 failed, under min_events, no page.
    monitor.onDeliveries(outcomes(2, 2));
    await monitor.idle();
    expect(sent).toEqual([]);
    monitor.onDeliveries(outcomes(14, 4));
    await monitor.idle();
    expect(sent.map((a) => [a.kind, a.status, a.destination?.name])).toEqual([
      ['success_rate', 'firing', 'meta'],
    ]);
    expect(sent[0]!.success_rate).toEqual({
      delivered: 16,
      total: 22,
      rate: 16 / 22,
      threshold: 0.9,
      window_seconds: 60,
    });
    expect(sent[0]!.dedup_key).toBe('openpipes:destination-success:dst_1');
    // The bad minute leaves the window; a healthy one closes the incident.
    vi.advanceTimersByTime(61_000);
    monitor.onDeliveries(outcomes(30, 1));
    await monitor.idle();
    expect(sent.map((a) => [a.kind, a.status])).toEqual([
      ['success_rate', 'firing'],
      ['success_rate_recovered', 'resolved'],
    ]);
    expect(sent[1]!.dedup_key).toBe(sent[0]!.dedup_key);
  });

  it('alerts a source whose volume fell under half its usual level for this hour, then its recovery', async () => {
    const { monitor, sent, volume } = setup({ kinds: ['volume_anomaly'] });
    const now = Date.now();
    // The last 7 days: 240 events in the 14:00 hour (4 a minute).
    for (let day = 1; day <= 7; day++) {
      for (let m = 0; m < 60; m++) {
        const at = Date.parse('2026-03-10T14:00:00Z') - day * 86_400_000 + m * 60_000;
        countVolume(volume, at, 'src_web', 'purchase', 4);
      }
    }
    // Today: 1 event a minute for the last 20 minutes (a quarter of usual).
    for (let m = 1; m <= 20; m++) monitor.onAccepted('src_web', new Map([['purchase', 1]]));
    await monitor.checkVolume();
    expect(sent.map((a) => [a.kind, a.status, a.event_source?.name])).toEqual([
      ['volume_anomaly', 'firing', 'web'],
    ]);
    // Everything counted now landed in the current minute, outside the window: observed 0 of 60.
    expect(sent[0]!.volume).toEqual({
      observed: 0,
      usual: 60,
      ratio: 0,
      direction: 'below',
      limit: 0.5,
      window_minutes: 15,
      baseline_days: 7,
    });
    expect(sent[0]!.title).toBe('Volume of source "web" is low');
    // Traffic back: 4 a minute over the whole window.
    vi.advanceTimersByTime(20 * 60_000);
    for (let m = 2; m <= 17; m++) countVolume(volume, now + m * 60_000, 'src_web', 'purchase', 4);
    await monitor.checkVolume();
    expect(sent.map((a) => [a.kind, a.status])).toEqual([
      ['volume_anomaly', 'firing'],
      ['volume_recovered', 'resolved'],
    ]);
    expect(sent[1]!.dedup_key).toBe('openpipes:volume:source:src_web');
    await monitor.stop();
  });

  it('alerts an event type over its usual level only when asked (above), and not a source without history', async () => {
    const { monitor, sent, volume } = setup({
      kinds: ['volume_anomaly'],
      volume_anomaly: { watch: ['event_type'], below: null, above: 2 },
    });
    for (let day = 1; day <= 7; day++) {
      countVolume(volume, Date.parse('2026-03-10T14:10:00Z') - day * 86_400_000, 'src_web', 'purchase', 120);
    }
    for (let m = 2; m <= 16; m++) {
      countVolume(volume, Date.parse('2026-03-10T14:20:00Z') + m * 60_000, 'src_app', 'purchase', 10);
    }
    await monitor.checkVolume();
    expect(sent.map((a) => [a.kind, a.event_type, a.volume?.direction, a.volume?.observed])).toEqual([
      ['volume_anomaly', 'purchase', 'above', 140],
    ]);
    expect(sent[0]!.title).toBe('Volume of event type "purchase" is high');
  });
});

describe('who checks volumes on the ticker', () => {
  onTheEngineClock();

  // An engine without the ingest role (the dispatch thread of `openpipes serve`) counts no events:
  // checking, it would read the ingesting engine's counts before their last minute is written.
  it.each([
    { checksVolume: undefined, expected: 2 },
    { checksVolume: false, expected: 0 },
  ])(
    'checksVolume $checksVolume: $expected volume checks by the ticker in two intervals',
    async ({ checksVolume, expected }) => {
      const { monitor, checks } = setup(
        { kinds: ['volume_anomaly'] },
        { volumeIntervalMs: 60_000, ...(checksVolume === undefined ? {} : { checksVolume }) },
      );
      monitor.start();
      for (let i = 0; i < 2; i++) {
        await vi.advanceTimersByTimeAsync(61_000);
        await monitor.idle();
      }
      await monitor.stop();
      const byTicker = checks.length;
      // Asked directly, every engine checks (the API's own call): one check's reads, for the count.
      await monitor.checkVolume();
      const perCheck = checks.length - byTicker;
      expect(perCheck).toBeGreaterThan(0);
      expect(byTicker).toBe(expected * perCheck);
    },
  );
});

describe('level rules in a config document', () => {
  it('exports and imports volume_anomaly and success_rate settings, with defaults, and refuses out-of-range ones', () => {
    const doc = configDocumentSchema.parse({
      format: 'openpipes-config',
      version: 1,
      alert_channels: [
        {
          name: 'pager',
          type: 'webhook',
          url_secret: 'PAGER_URL',
          kinds: ['volume_anomaly', 'success_rate'],
          volume_anomaly: { watch: ['event_type'], below: null, above: 4 },
        },
      ],
    });
    expect(doc.alert_channels[0]).toMatchObject({
      volume_anomaly: {
        watch: ['event_type'],
        below: null,
        above: 4,
        window_minutes: 15,
        baseline_days: 7,
        min_usual: 20,
      },
      success_rate: { threshold: 0.9, window_seconds: 600, min_events: 50 },
    });
    const bad = configDocumentSchema.safeParse({
      format: 'openpipes-config',
      version: 1,
      alert_channels: [{ name: 'x', type: 'slack', volume_anomaly: { baseline_days: 90, extra: 1 } }],
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(
      expect.arrayContaining([
        'alert_channels.0.volume_anomaly.baseline_days',
        'alert_channels.0.volume_anomaly',
      ]),
    );
  });
});
