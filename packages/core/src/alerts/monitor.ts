/**
 * Watches what the dispatcher reports and decides what to tell each channel.
 *
 * The engine's listeners must never slow delivery, so they only count: per pipe, the failures,
 * dead deliveries and successes of each recorded batch (and one example of each), plus a per-second
 * tally for failure rates. Everything else happens later, in one pass at a time, off the
 * dispatcher's path: read each affected (channel, pipe or destination) state from the store, run
 * the noise reducer, write the state back, and queue the messages on the sender.
 *
 * Multi-process: the incident and cooldown state is in the store, so processes sharing a store
 * share incidents. Updates are read-modify-write without a lock: two processes that see a pipe's
 * first failure within the same few milliseconds may both announce it, and concurrent folds may
 * undercount. Failure rates are computed per process over the deliveries that process recorded.
 */
import type { ConfigCache, ConfigSnapshot } from '../config.js';
import type { EngineEventMap } from '../events.js';
import type { Logger } from '../logger.js';
import type { SecretResolver } from '../registries/secrets.js';
import { createRedactor, type Redactor } from '../secrets/redact.js';
import type { Store } from '../store.js';
import { type AlertSubjects, noticeAlert, recoveryAlert } from './message.js';
import {
  type AlertExample,
  applyFailures,
  applyFlush,
  applyRecovery,
  nextFlushAt,
  type SubjectState,
  type Trigger,
  toSubjectState,
} from './noise.js';
import type { Alert, AlertChannelConfig, AlertTriggerKind } from './schemas.js';
import type { AlertSender } from './sender.js';

export interface AlertMonitorDeps {
  store: Store;
  config: ConfigCache;
  /** Enabled channels (cached by the caller). */
  channels: () => Promise<AlertChannelConfig[]>;
  sender: AlertSender;
  resolveSecrets: SecretResolver;
  /** The redactor for a destination's current secret values (cached, with retired values); default createRedactor. */
  redactorFor?: (current: Record<string, string>) => Promise<Redactor>;
  logger: Logger;
  now: () => number;
  publicBaseUrl: string | null;
  /** How often folded counts whose cooldown ended are looked at, ms. */
  flushIntervalMs: number;
}

export interface AlertMonitor {
  onDeliveries(payload: EngineEventMap['deliveries']): void;
  onPaused(payload: EngineEventMap['destination-paused']): void;
  onResumed(payload: EngineEventMap['destination-resumed']): void;
  start(): void;
  /** Stops the flush timer and waits for the pass in progress. */
  stop(): Promise<void>;
  /** Resolves when nothing is waiting to be evaluated. */
  idle(): Promise<void>;
}

type Subject = { type: 'pipe' | 'destination'; id: string };

interface PipeTally {
  destination_id: string;
  destination: string;
  failures: number;
  dead: number;
  delivered: number;
  firstFailure: AlertExample | null;
  lastFailure: AlertExample | null;
  firstDead: AlertExample | null;
  firstDelivered: string | null;
}

type DestinationSignal =
  | { type: 'paused'; payload: EngineEventMap['destination-paused'] }
  | { type: 'resumed'; payload: EngineEventMap['destination-resumed'] };

/** Per-second outcome counts of one pipe, oldest first. */
interface RateBucket {
  second: number;
  total: number;
  failed: number;
}

const pipeTriggerKinds = new Set<AlertTriggerKind>(['pipe_failing', 'delivery_dead', 'failure_rate']);
/** Longest failure-rate window a channel may set (see `failureRateSchema`). */
const maxWindowSeconds = 3600;
/** How long a healthy pipe's closed incident is trusted before the store is asked again. */
const quietRecheckMs = 1000;
/** Destination signals kept while a pass runs; a flood of pauses beyond this is dropped. */
const maxDestinationSignals = 1000;

export const incidentKey = (channelId: string, subject: Subject) =>
  `alerts:incident:${channelId}:${subject.type}:${subject.id}`;

const watchesPipe = (channel: AlertChannelConfig, pipeId: string) =>
  channel.pipe_ids.length === 0 || channel.pipe_ids.includes(pipeId);

export function createAlertMonitor(deps: AlertMonitorDeps): AlertMonitor {
  let tallies = new Map<string, PipeTally>();
  const destinationSignals: DestinationSignal[] = [];
  const lastFailureByDestination = new Map<string, { pipe_id: string; example: AlertExample }>();
  const rates = new Map<string, RateBucket[]>();
  const due = new Map<string, { at: number; channelId: string; subject: Subject }>();
  const quietUntil = new Map<string, number>();

  let scheduled = false;
  let pass: Promise<void> | null = null;
  let again = false;
  let ticker: NodeJS.Timeout | null = null;
  let idleWaiters: Array<() => void> = [];

  const hasWork = () =>
    tallies.size > 0 || destinationSignals.length > 0 || [...due.values()].some((d) => d.at <= deps.now());

  const settleIdle = () => {
    if (pass || scheduled) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    // After the current synchronous emit chain: a breaker's `destination-paused` is emitted just
    // before the `deliveries` of the batch that tripped it, and the pass should see both.
    setImmediate(() => {
      scheduled = false;
      if (pass) {
        again = true;
        return;
      }
      pass = (async () => {
        do {
          again = false;
          await runPass();
        } while (again);
      })()
        .catch((err) => deps.logger.error('evaluating alerts failed', { error: String(err) }))
        .finally(() => {
          pass = null;
          settleIdle();
        });
    });
  };

  // ------------------------------------------------------------------ listeners (cheap, sync)

  const addRate = (pipeId: string, second: number, total: number, failed: number) => {
    let buckets = rates.get(pipeId);
    if (!buckets) {
      buckets = [];
      rates.set(pipeId, buckets);
    }
    const last = buckets[buckets.length - 1];
    if (last && last.second === second) {
      last.total += total;
      last.failed += failed;
    } else {
      buckets.push({ second, total, failed });
    }
    while (buckets.length > 0 && buckets[0]!.second <= second - maxWindowSeconds) buckets.shift();
  };

  const onDeliveries = (payload: EngineEventMap['deliveries']) => {
    const second = Math.floor(deps.now() / 1000);
    const perPipe = new Map<string, { total: number; failed: number }>();
    for (const outcome of payload.outcomes) {
      const failed =
        outcome.status === 'failed' || outcome.status === 'retrying' || outcome.status === 'dead';
      if (!failed && outcome.status !== 'delivered') continue;
      let tally = tallies.get(outcome.pipe_id);
      if (!tally) {
        tally = {
          destination_id: payload.destination_id,
          destination: payload.destination,
          failures: 0,
          dead: 0,
          delivered: 0,
          firstFailure: null,
          lastFailure: null,
          firstDead: null,
          firstDelivered: null,
        };
        tallies.set(outcome.pipe_id, tally);
      }
      const counts = perPipe.get(outcome.pipe_id) ?? { total: 0, failed: 0 };
      counts.total++;
      if (failed) {
        counts.failed++;
        const example: AlertExample = {
          delivery_id: outcome.id,
          error: outcome.error
            ? { code: String(outcome.error.code), message: String(outcome.error.message) }
            : null,
        };
        tally.failures++;
        tally.firstFailure ??= example;
        tally.lastFailure = example;
        if (outcome.status === 'dead') {
          tally.dead++;
          tally.firstDead ??= example;
        }
        lastFailureByDestination.set(payload.destination_id, { pipe_id: outcome.pipe_id, example });
      } else {
        tally.delivered++;
        tally.firstDelivered ??= outcome.id;
      }
      perPipe.set(outcome.pipe_id, counts);
    }
    for (const [pipeId, counts] of perPipe) addRate(pipeId, second, counts.total, counts.failed);
    if (perPipe.size > 0) schedule();
  };

  const pushSignal = (signal: DestinationSignal) => {
    if (destinationSignals.length >= maxDestinationSignals) return;
    destinationSignals.push(signal);
    schedule();
  };

  // ------------------------------------------------------------------ evaluation (async, serial)

  const rateOf = (
    pipeId: string,
    channel: AlertChannelConfig,
    now: number,
  ): NonNullable<Alert['failure_rate']> => {
    const from = Math.floor(now / 1000) - channel.failure_rate.window_seconds;
    let total = 0;
    let failed = 0;
    for (const bucket of rates.get(pipeId) ?? []) {
      if (bucket.second <= from) continue;
      total += bucket.total;
      failed += bucket.failed;
    }
    return {
      failed,
      total,
      rate: total === 0 ? 0 : failed / total,
      threshold: channel.failure_rate.threshold,
      window_seconds: channel.failure_rate.window_seconds,
    };
  };

  const readState = async (key: string): Promise<SubjectState> =>
    toSubjectState(await deps.store.getState({ key }));
  const writeState = (key: string, state: SubjectState, now: number) =>
    deps.store.setState({ key, value: state, now: new Date(now).toISOString() });

  const trackDue = (key: string, state: SubjectState, channel: AlertChannelConfig, subject: Subject) => {
    const at = nextFlushAt(state, channel.cooldown_seconds * 1000);
    if (at === null) due.delete(key);
    else due.set(key, { at, channelId: channel.id, subject });
  };

  const send = (channel: AlertChannelConfig, alert: Alert) => {
    deps.sender.enqueue(
      { id: channel.id, name: channel.name, type: channel.type, url_secret_id: channel.url_secret_id },
      alert,
    );
  };

  /** A redactor per destination and pass: alerts carry errors, and errors may echo a token. */
  const redactors = new Map<string, Promise<Redactor>>();
  const redactorFor = (config: ConfigSnapshot, destinationId: string) => {
    let redactor = redactors.get(destinationId);
    if (!redactor) {
      const secretIds = config.destinations.get(destinationId)?.secret_ids ?? [];
      redactor = deps
        .resolveSecrets(secretIds)
        .then((secrets) => (deps.redactorFor ? deps.redactorFor(secrets) : createRedactor(secrets)))
        .catch(() => createRedactor({}));
      redactors.set(destinationId, redactor);
    }
    return redactor;
  };
  const cleanExample = async (
    config: ConfigSnapshot,
    destinationId: string,
    example: AlertExample | null,
  ): Promise<AlertExample | null> => {
    if (!example?.error) return example;
    const redact = await redactorFor(config, destinationId);
    return { delivery_id: example.delivery_id, error: redact(example.error) };
  };

  const pipeSubjects = (
    config: ConfigSnapshot,
    pipeId: string,
    fallbackDestination?: { id: string; name: string },
  ) => {
    const pipe = config.pipes.get(pipeId);
    const destinationId = pipe?.destination_id ?? fallbackDestination?.id ?? null;
    const destination = destinationId ? config.destinations.get(destinationId) : undefined;
    const subjects: AlertSubjects = {
      pipe: { id: pipeId, name: pipe?.name ?? pipeId },
      destination: destinationId
        ? { id: destinationId, name: destination?.name ?? fallbackDestination?.name ?? destinationId }
        : null,
    };
    return subjects;
  };

  const handlePipe = async (
    pipeId: string,
    tally: PipeTally,
    channels: AlertChannelConfig[],
    config: ConfigSnapshot,
    now: number,
  ) => {
    const watching = channels.filter(
      (c) => watchesPipe(c, pipeId) && c.kinds.some((kind) => pipeTriggerKinds.has(kind)),
    );
    if (watching.length === 0) return;
    const subjects = pipeSubjects(config, pipeId, { id: tally.destination_id, name: tally.destination });
    const firstFailure = await cleanExample(config, tally.destination_id, tally.firstFailure);
    const lastFailure = await cleanExample(config, tally.destination_id, tally.lastFailure);
    const firstDead = await cleanExample(config, tally.destination_id, tally.firstDead);
    for (const channel of watching) {
      const subject: Subject = { type: 'pipe', id: pipeId };
      const key = incidentKey(channel.id, subject);
      const cooldownMs = channel.cooldown_seconds * 1000;
      if (tally.failures > 0) {
        const triggers: Trigger[] = [];
        if (channel.kinds.includes('pipe_failing')) {
          triggers.push({ kind: 'pipe_failing', count: tally.failures, example: firstFailure });
        }
        if (channel.kinds.includes('delivery_dead') && tally.dead > 0) {
          triggers.push({ kind: 'delivery_dead', count: tally.dead, example: firstDead });
        }
        const rate = rateOf(pipeId, channel, now);
        if (
          channel.kinds.includes('failure_rate') &&
          rate.total >= channel.failure_rate.min_events &&
          rate.rate >= channel.failure_rate.threshold
        ) {
          triggers.push({ kind: 'failure_rate', count: tally.failures, example: lastFailure });
        }
        if (triggers.length === 0) continue;
        const { state, send: notices } = applyFailures(
          await readState(key),
          triggers,
          tally.failures,
          now,
          cooldownMs,
        );
        await writeState(key, state, now);
        quietUntil.delete(key);
        trackDue(key, state, channel, subject);
        for (const notice of notices) {
          send(
            channel,
            noticeAlert(
              notice,
              subjects,
              deps.publicBaseUrl,
              now,
              notice.kind === 'failure_rate' ? { failureRate: rate } : {},
            ),
          );
        }
      } else if (tally.delivered > 0) {
        if ((quietUntil.get(key) ?? 0) > now) continue;
        const { state, recovery, changed } = applyRecovery(await readState(key));
        if (changed) await writeState(key, state, now);
        if (state.incident === null) quietUntil.set(key, now + quietRecheckMs);
        if (recovery) {
          const example = { delivery_id: tally.firstDelivered, error: null };
          send(
            channel,
            recoveryAlert('pipe_recovered', recovery, subjects, example, deps.publicBaseUrl, now),
          );
        }
      }
    }
  };

  const handleDestination = async (
    signal: DestinationSignal,
    channels: AlertChannelConfig[],
    config: ConfigSnapshot,
    now: number,
  ) => {
    const destinationId = signal.payload.destination_id;
    const pipesOfDestination = [...config.pipes.values()]
      .filter((p) => p.destination_id === destinationId)
      .map((p) => p.id);
    const watching = channels.filter(
      (c) =>
        c.kinds.includes('destination_paused') &&
        (c.pipe_ids.length === 0 || c.pipe_ids.some((id) => pipesOfDestination.includes(id))),
    );
    if (watching.length === 0) return;
    const last = lastFailureByDestination.get(destinationId);
    const subjects: AlertSubjects = {
      pipe: last ? { id: last.pipe_id, name: config.pipes.get(last.pipe_id)?.name ?? last.pipe_id } : null,
      destination: { id: destinationId, name: signal.payload.destination },
    };
    const subject: Subject = { type: 'destination', id: destinationId };
    for (const channel of watching) {
      const key = incidentKey(channel.id, subject);
      if (signal.type === 'paused') {
        const example =
          (await cleanExample(config, destinationId, last?.example ?? null)) ??
          ({
            delivery_id: null,
            error: (await redactorFor(config, destinationId))({
              code: 'DESTINATION_PAUSED',
              message: signal.payload.reason,
            }),
          } satisfies AlertExample);
        const { state, send: notices } = applyFailures(
          await readState(key),
          [{ kind: 'destination_paused', count: 1, example }],
          1,
          now,
          channel.cooldown_seconds * 1000,
        );
        await writeState(key, state, now);
        trackDue(key, state, channel, subject);
        for (const notice of notices) {
          send(
            channel,
            noticeAlert(notice, subjects, deps.publicBaseUrl, now, {
              pausedUntil: signal.payload.paused_until,
              consecutiveFailures: signal.payload.consecutive_failures,
            }),
          );
        }
      } else {
        const { state, recovery, changed } = applyRecovery(await readState(key));
        if (changed) await writeState(key, state, now);
        if (recovery) {
          send(
            channel,
            recoveryAlert('destination_resumed', recovery, subjects, null, deps.publicBaseUrl, now),
          );
        }
      }
    }
  };

  const handleFlush = async (
    key: string,
    item: { channelId: string; subject: Subject },
    channels: AlertChannelConfig[],
    config: ConfigSnapshot,
    now: number,
  ) => {
    const channel = channels.find((c) => c.id === item.channelId);
    if (!channel) return;
    const { state, send: notices } = applyFlush(await readState(key), now, channel.cooldown_seconds * 1000);
    if (notices.length > 0) await writeState(key, state, now);
    trackDue(key, state, channel, item.subject);
    const subjects: AlertSubjects =
      item.subject.type === 'pipe'
        ? pipeSubjects(config, item.subject.id)
        : {
            pipe: null,
            destination: {
              id: item.subject.id,
              name: config.destinations.get(item.subject.id)?.name ?? item.subject.id,
            },
          };
    for (const notice of notices) {
      const extras =
        notice.kind === 'failure_rate' ? { failureRate: rateOf(item.subject.id, channel, now) } : {};
      send(channel, noticeAlert(notice, subjects, deps.publicBaseUrl, now, extras));
    }
  };

  const runPass = async () => {
    const now = deps.now();
    const pipeWork = tallies;
    tallies = new Map();
    const destinationWork = destinationSignals.splice(0);
    const flushWork = [...due].filter(([, d]) => d.at <= now);
    for (const [key] of flushWork) due.delete(key);
    if (pipeWork.size === 0 && destinationWork.length === 0 && flushWork.length === 0) return;

    const channels = await deps.channels();
    if (channels.length === 0) return;
    const config = await deps.config.current();
    redactors.clear();
    const guarded = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        deps.logger.warn('could not evaluate an alert', { subject: what, error: String(err) });
      }
    };
    for (const [pipeId, tally] of pipeWork)
      await guarded(pipeId, () => handlePipe(pipeId, tally, channels, config, now));
    for (const signal of destinationWork) {
      await guarded(signal.payload.destination_id, () => handleDestination(signal, channels, config, now));
    }
    for (const [key, item] of flushWork)
      await guarded(key, () => handleFlush(key, item, channels, config, now));
    redactors.clear();
  };

  const idle = (): Promise<void> => {
    if (!pass && !scheduled) return Promise.resolve();
    return new Promise((resolve) => idleWaiters.push(resolve));
  };

  return {
    onDeliveries(payload) {
      try {
        onDeliveries(payload);
      } catch (err) {
        deps.logger.error('alert bookkeeping failed', { error: String(err) });
      }
    },
    onPaused(payload) {
      pushSignal({ type: 'paused', payload });
    },
    onResumed(payload) {
      pushSignal({ type: 'resumed', payload });
    },
    start() {
      if (ticker) return;
      ticker = setInterval(() => {
        if (hasWork()) schedule();
      }, deps.flushIntervalMs);
      ticker.unref();
    },
    async stop() {
      if (ticker) clearInterval(ticker);
      ticker = null;
      // One last look at what the final batches reported.
      if (tallies.size > 0 || destinationSignals.length > 0) schedule();
      await idle();
    },
    idle,
  };
}
