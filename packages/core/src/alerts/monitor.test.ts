/**
 * The monitor's shell on the engine's clock: Date and the flush ticker are fake timers, the store's
 * state is a Map, and the sender only records what it was given. `idle()` says when a pass is over.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConfigSnapshot } from '../config.js';
import type { EngineEventMap } from '../events.js';
import type { Destination, Pipe } from '../schemas.js';
import { type AlertMonitor, type AlertMonitorDeps, createAlertMonitor } from './monitor.js';
import { type Alert, type AlertChannelConfig, alertChannelDataSchema } from './schemas.js';

const token = 'tok_live_5a9c';
const config = {
  revision: 1,
  pipes: new Map([
    ['pip_1', { id: 'pip_1', name: 'to-meta', destination_id: 'dst_1', enabled: true } as Pipe],
  ]),
  destinations: new Map([['dst_1', { id: 'dst_1', name: 'meta', secret_ids: ['sec_tok'] } as Destination]]),
} as ConfigSnapshot;

function setup(channelFields: Record<string, unknown> = {}, store?: AlertMonitorDeps['store']) {
  const state = new Map<string, unknown>();
  const sent: Alert[] = [];
  const warnings: string[] = [];
  const channel = {
    ...alertChannelDataSchema.parse({
      name: 'ops',
      type: 'slack',
      url_secret_id: 'sec_url',
      cooldown_seconds: 60,
      ...channelFields,
    }),
    id: 'ach_1',
    version: 1,
  } as AlertChannelConfig;
  const monitor = createAlertMonitor({
    store: store ?? {
      async getState({ key }) {
        return state.get(key) ?? null;
      },
      async setState({ key, value }) {
        state.set(key, value);
      },
      addVolume: async () => {},
      volumeTotals: async () => [],
    },
    config: { current: async () => config, invalidate() {} },
    channels: async () => [channel],
    sender: { enqueue: (_target, alert) => sent.push(alert) > 0 },
    resolveSecrets: async () => ({ META_TOKEN: token }),
    logger: {
      debug() {},
      info() {},
      // Either form of the Logger contract: keep the message.
      warn: (a, b) => void warnings.push(typeof a === 'string' ? a : String(b)),
      error: (a, b) => void warnings.push(typeof a === 'string' ? a : String(b)),
    },
    now: () => Date.now(),
    publicBaseUrl: null,
    flushIntervalMs: 1000,
  });
  return { monitor, sent, state, warnings };
}

const failed = (id: string, status: 'failed' | 'retrying' | 'dead' = 'failed') => ({
  id,
  pipe_id: 'pip_1',
  event_id: `e_${id}`,
  status,
  error: { code: 'HTTP_401', message: `Invalid OAuth access token: ${token}` },
});
const delivered = (id: string) => ({
  id,
  pipe_id: 'pip_1',
  event_id: `e_${id}`,
  status: 'delivered' as const,
  error: null,
});
const batch = (outcomes: EngineEventMap['deliveries']['outcomes']): EngineEventMap['deliveries'] => ({
  destination_id: 'dst_1',
  destination: 'meta',
  outcomes,
});

async function report(monitor: AlertMonitor, outcomes: EngineEventMap['deliveries']['outcomes']) {
  monitor.onDeliveries(batch(outcomes));
  await monitor.idle();
}

describe('alert monitor on the engine clock', () => {
  beforeEach(() => {
    // setImmediate stays real: a pass starts after the emit chain, and idle() waits for it.
    vi.useFakeTimers({
      now: Date.parse('2026-01-01T00:00:00Z'),
      toFake: ['Date', 'setInterval', 'clearInterval'],
    });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('announces a failing pipe once, folds the failures inside the cooldown, and sends them when it ends', async () => {
    const { monitor, sent } = setup();
    monitor.start();
    await report(monitor, [failed('evd_1')]);
    expect(sent.map((a) => [a.kind, a.status, a.count])).toEqual([['pipe_failing', 'firing', 1]]);
    expect(sent[0]!.error!.message).toBe('Invalid OAuth access token: [secret:META_TOKEN]');

    vi.advanceTimersByTime(10_000);
    await report(monitor, [failed('evd_2'), failed('evd_3')]);
    vi.advanceTimersByTime(10_000);
    await report(monitor, [failed('evd_4')]);
    expect(sent).toHaveLength(1);

    // The cooldown (60 s from the first message) ends: the next tick sends the folded three.
    vi.advanceTimersByTime(39_000);
    await monitor.idle();
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    await monitor.idle();
    expect(sent.map((a) => [a.kind, a.count, a.folded])).toEqual([
      ['pipe_failing', 1, 0],
      ['pipe_failing', 3, 3],
    ]);
    await monitor.stop();
  });

  it('closes an announced incident with one recovery, and stays quiet for the next successes', async () => {
    const { monitor, sent } = setup();
    await report(monitor, [failed('evd_1'), failed('evd_2', 'dead')]);
    await report(monitor, [failed('evd_3')]);
    await report(monitor, [delivered('evd_4')]);
    vi.advanceTimersByTime(5000);
    await report(monitor, [delivered('evd_5')]);
    expect(sent.map((a) => [a.kind, a.status])).toEqual([
      ['pipe_failing', 'firing'],
      ['delivery_dead', 'firing'],
      ['pipe_recovered', 'resolved'],
    ]);
    expect(sent[2]).toMatchObject({ count: 3, example_delivery_id: 'evd_4' });
    expect(sent[2]!.dedup_key).toBe(sent[0]!.dedup_key);
  });

  it('opens a failure_rate incident only at the threshold over the window', async () => {
    const { monitor, sent } = setup({
      kinds: ['failure_rate'],
      failure_rate: { threshold: 0.5, window_seconds: 10, min_events: 4 },
    });
    await report(monitor, [delivered('d1'), delivered('d2'), failed('f1')]);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1000);
    await report(monitor, [failed('f2')]);
    expect(sent.map((a) => [a.kind, a.failure_rate])).toEqual([
      ['failure_rate', { failed: 2, total: 4, rate: 0.5, threshold: 0.5, window_seconds: 10 }],
    ]);
  });

  it('alerts a paused destination and resolves it on resume, with the pipe of the last failure', async () => {
    const { monitor, sent } = setup({ kinds: ['destination_paused'] });
    const pausedUntil = new Date(Date.now() + 5000).toISOString();
    monitor.onPaused({
      destination_id: 'dst_1',
      destination: 'meta',
      consecutive_failures: 5,
      paused_until: pausedUntil,
      reason: `HTTP 503 ${token}`,
      reopened: false,
    });
    monitor.onDeliveries(batch([failed('evd_1', 'retrying')]));
    await monitor.idle();
    vi.advanceTimersByTime(5000);
    monitor.onResumed({ destination_id: 'dst_1', destination: 'meta' });
    await monitor.idle();
    expect(sent.map((a) => [a.kind, a.status])).toEqual([
      ['destination_paused', 'firing'],
      ['destination_resumed', 'resolved'],
    ]);
    expect(sent[0]).toMatchObject({
      paused_until: pausedUntil,
      pipe: { id: 'pip_1', name: 'to-meta' },
      destination: { id: 'dst_1', name: 'meta' },
      example_delivery_id: 'evd_1',
    });
    expect(JSON.stringify(sent)).not.toContain(token);
  });

  it('is idle at once with nothing to do, and stop() evaluates what the last batches reported', async () => {
    const { monitor, sent } = setup();
    await monitor.idle();
    monitor.start();
    monitor.onDeliveries(batch([failed('evd_1')]));
    await monitor.stop();
    expect(sent).toHaveLength(1);
  });

  it('logs a subject it cannot evaluate and goes on with the others', async () => {
    const { monitor, sent } = setup();
    const { monitor: broken, warnings } = setup(
      {},
      {
        getState: async () => {
          throw new Error('store down');
        },
        setState: async () => {},
        addVolume: async () => {},
        volumeTotals: async () => [],
      },
    );
    broken.onDeliveries(batch([failed('evd_1')]));
    await broken.idle();
    expect(warnings).toEqual(['could not evaluate an alert']);
    await report(monitor, [failed('evd_2')]);
    expect(sent).toHaveLength(1);
  });
});
