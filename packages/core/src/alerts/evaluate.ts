/**
 * One evaluation pass of the alert monitor: for each pipe that reported outcomes, each destination
 * that paused or resumed, and each folded count whose cooldown ended, read the (channel, subject)
 * state from the store, run the noise reducer (`noise.ts`), write the state back and queue the
 * messages (`message.ts`) on the sender. Which channels and rules apply is decided in `rules.ts`.
 */
import type { ConfigCache, ConfigSnapshot } from '../config.js';
import type { EngineEventMap } from '../events.js';
import type { Logger } from '../logger.js';
import type { SecretResolver } from '../registries/secrets.js';
import { createRedactor, type Redactor } from '../secrets/redact.js';
import type { Store } from '../store.js';
import { noticeAlert, recoveryAlert } from './message.js';
import {
  type AlertExample,
  applyFailures,
  applyFlush,
  applyRecovery,
  nextFlushAt,
  type SubjectState,
  toSubjectState,
} from './noise.js';
import {
  channelsForDestination,
  channelsForPipe,
  destinationSubjects,
  incidentKey,
  pipeSubjects,
  pipeTriggers,
  type Subject,
} from './rules.js';
import type { Alert, AlertChannelConfig } from './schemas.js';
import type { AlertSender } from './sender.js';
import { type LastFailures, type PipeTally, type RateBucket, rateOf } from './tally.js';

export interface EvaluateDeps {
  store: Pick<Store, 'getState' | 'setState'>;
  config: ConfigCache;
  /** Enabled channels (cached by the caller). */
  channels: () => Promise<AlertChannelConfig[]>;
  sender: Pick<AlertSender, 'enqueue'>;
  resolveSecrets: SecretResolver;
  /** The redactor for a destination's current secret values (cached, with retired values); default createRedactor. */
  redactorFor?: (current: Record<string, string>) => Promise<Redactor>;
  logger: Logger;
  publicBaseUrl: string | null;
}

export type DestinationSignal =
  | { type: 'paused'; payload: EngineEventMap['destination-paused'] }
  | { type: 'resumed'; payload: EngineEventMap['destination-resumed'] };

/** A folded count to send when its cooldown ends. */
export interface DueFlush {
  at: number;
  channelId: string;
  subject: Subject;
}

/** What the monitor keeps between passes. */
export interface MonitorMemory {
  rates: Map<string, RateBucket[]>;
  lastFailures: LastFailures;
  /** Folded counts by incident key. */
  due: Map<string, DueFlush>;
  /** Incident keys of healthy pipes not looked up again before this time. */
  quietUntil: Map<string, number>;
}

export interface PassWork {
  pipes: Map<string, PipeTally>;
  destinations: DestinationSignal[];
  flushes: Array<[string, DueFlush]>;
}

/** How long a healthy pipe's closed incident is trusted before the store is asked again. */
const quietRecheckMs = 1000;

export function createEvaluator(deps: EvaluateDeps, memory: MonitorMemory) {
  const readState = async (key: string): Promise<SubjectState> =>
    toSubjectState(await deps.store.getState({ key }));
  const writeState = (key: string, state: SubjectState, now: number) =>
    deps.store.setState({ key, value: state, now: new Date(now).toISOString() });
  const trackDue = (key: string, state: SubjectState, channel: AlertChannelConfig, subject: Subject) => {
    const at = nextFlushAt(state, channel.cooldown_seconds * 1000);
    if (at === null) memory.due.delete(key);
    else memory.due.set(key, { at, channelId: channel.id, subject });
  };
  const send = (channel: AlertChannelConfig, alert: Alert) =>
    deps.sender.enqueue(
      { id: channel.id, name: channel.name, type: channel.type, url_secret_id: channel.url_secret_id },
      alert,
    );

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
  ) => {
    if (!example?.error) return example;
    const redact = await redactorFor(config, destinationId);
    return { delivery_id: example.delivery_id, error: redact(example.error) };
  };

  const handlePipe = async (
    pipeId: string,
    tally: PipeTally,
    channels: AlertChannelConfig[],
    config: ConfigSnapshot,
    now: number,
  ) => {
    const watching = channelsForPipe(channels, pipeId);
    if (watching.length === 0) return;
    const subjects = pipeSubjects(config, pipeId, { id: tally.destination_id, name: tally.destination });
    const examples = {
      firstFailure: await cleanExample(config, tally.destination_id, tally.firstFailure),
      lastFailure: await cleanExample(config, tally.destination_id, tally.lastFailure),
      firstDead: await cleanExample(config, tally.destination_id, tally.firstDead),
    };
    const subject: Subject = { type: 'pipe', id: pipeId };
    for (const channel of watching) {
      const key = incidentKey(channel.id, subject);
      if (tally.failures > 0) {
        const rate = rateOf(memory.rates.get(pipeId), channel.failure_rate, now);
        const triggers = pipeTriggers(channel, tally, examples, rate);
        if (triggers.length === 0) continue;
        const cooldownMs = channel.cooldown_seconds * 1000;
        const { state, send: notices } = applyFailures(
          await readState(key),
          triggers,
          tally.failures,
          now,
          cooldownMs,
        );
        await writeState(key, state, now);
        memory.quietUntil.delete(key);
        trackDue(key, state, channel, subject);
        for (const notice of notices) {
          const extras = notice.kind === 'failure_rate' ? { failureRate: rate } : {};
          send(channel, noticeAlert(notice, subjects, deps.publicBaseUrl, now, extras));
        }
      } else if (tally.delivered > 0) {
        if ((memory.quietUntil.get(key) ?? 0) > now) continue;
        const { state, recovery, changed } = applyRecovery(await readState(key));
        if (changed) await writeState(key, state, now);
        if (state.incident === null) memory.quietUntil.set(key, now + quietRecheckMs);
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
    const watching = channelsForDestination(channels, config, destinationId);
    if (watching.length === 0) return;
    const last = memory.lastFailures.get(destinationId);
    const subjects = destinationSubjects(
      config,
      { id: destinationId, name: signal.payload.destination },
      last?.pipe_id ?? null,
    );
    const subject: Subject = { type: 'destination', id: destinationId };
    for (const channel of watching) {
      const key = incidentKey(channel.id, subject);
      if (signal.type === 'resumed') {
        const { state, recovery, changed } = applyRecovery(await readState(key));
        if (changed) await writeState(key, state, now);
        if (recovery) {
          send(
            channel,
            recoveryAlert('destination_resumed', recovery, subjects, null, deps.publicBaseUrl, now),
          );
        }
        continue;
      }
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
    }
  };

  const handleFlush = async (
    key: string,
    item: DueFlush,
    channels: AlertChannelConfig[],
    config: ConfigSnapshot,
    now: number,
  ) => {
    const channel = channels.find((c) => c.id === item.channelId);
    if (!channel) return;
    const { state, send: notices } = applyFlush(await readState(key), now, channel.cooldown_seconds * 1000);
    if (notices.length > 0) await writeState(key, state, now);
    trackDue(key, state, channel, item.subject);
    const subjects =
      item.subject.type === 'pipe'
        ? pipeSubjects(config, item.subject.id)
        : destinationSubjects(config, { id: item.subject.id }, null);
    for (const notice of notices) {
      const extras =
        notice.kind === 'failure_rate'
          ? { failureRate: rateOf(memory.rates.get(item.subject.id), channel.failure_rate, now) }
          : {};
      send(channel, noticeAlert(notice, subjects, deps.publicBaseUrl, now, extras));
    }
  };

  /** Evaluates one pass's work; a subject that fails is logged and the others go on. */
  const runPass = async (work: PassWork, now: number) => {
    if (work.pipes.size === 0 && work.destinations.length === 0 && work.flushes.length === 0) return;
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
    for (const [pipeId, tally] of work.pipes)
      await guarded(pipeId, () => handlePipe(pipeId, tally, channels, config, now));
    for (const signal of work.destinations) {
      await guarded(signal.payload.destination_id, () => handleDestination(signal, channels, config, now));
    }
    for (const [key, item] of work.flushes)
      await guarded(key, () => handleFlush(key, item, channels, config, now));
    redactors.clear();
  };

  return { runPass };
}
