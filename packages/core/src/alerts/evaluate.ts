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
import { evaluateSuccessRate, evaluateVolume, flushExtras, flushSubjects } from './anomalies.js';
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
  store: Pick<Store, 'getState' | 'setState' | 'volumeTotals'>;
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
  /** Per-second outcomes per destination (success rates). */
  destinationRates: Map<string, RateBucket[]>;
  /** The numbers of the last volume check per subject (a folded alert's summary). */
  lastVolume: Map<string, NonNullable<Alert['volume']>>;
}

export interface PassWork {
  pipes: Map<string, PipeTally>;
  destinations: DestinationSignal[];
  flushes: Array<[string, DueFlush]>;
  /** Destinations that recorded outcomes since the last pass (success rates). */
  rated?: Set<string>;
  /** True when a volume check is due. */
  volume?: boolean;
}

/** How long a healthy pipe's closed incident is trusted before the store is asked again. */
const quietRecheckMs = 1000;

/** What the evaluations of one pass share: its time, channels and configuration, and the state I/O. */
export interface Pass {
  now: number;
  store: EvaluateDeps['store'];
  channels: AlertChannelConfig[];
  config: ConfigSnapshot;
  memory: MonitorMemory;
  publicBaseUrl: string | null;
  readState(key: string): Promise<SubjectState>;
  writeState(key: string, state: SubjectState): Promise<void>;
  /** Remembers when a channel's folded counts about a subject are due. */
  trackDue(key: string, state: SubjectState, channel: AlertChannelConfig, subject: Subject): void;
  send(channel: AlertChannelConfig, alert: Alert): void;
  /** The redactor of a destination's secrets, once per pass: alerts carry errors, and errors may echo a token. */
  redactor(destinationId: string): Promise<Redactor>;
  cleanExample(destinationId: string, example: AlertExample | null): Promise<AlertExample | null>;
}

export function createEvaluator(deps: EvaluateDeps, memory: MonitorMemory) {
  const openPass = (channels: AlertChannelConfig[], config: ConfigSnapshot, now: number): Pass => {
    const redactors = new Map<string, Promise<Redactor>>();
    const redactor = (destinationId: string) => {
      let found = redactors.get(destinationId);
      if (!found) {
        const secretIds = config.destinations.get(destinationId)?.secret_ids ?? [];
        found = deps
          .resolveSecrets(secretIds)
          .then((secrets) => (deps.redactorFor ? deps.redactorFor(secrets) : createRedactor(secrets)))
          .catch(() => createRedactor({}));
        redactors.set(destinationId, found);
      }
      return found;
    };
    return {
      now,
      store: deps.store,
      channels,
      config,
      memory,
      publicBaseUrl: deps.publicBaseUrl,
      readState: async (key) => toSubjectState(await deps.store.getState({ key })),
      writeState: (key, state) =>
        deps.store.setState({ key, value: state, now: new Date(now).toISOString() }),
      trackDue(key, state, channel, subject) {
        const at = nextFlushAt(state, channel.cooldown_seconds * 1000);
        if (at === null) memory.due.delete(key);
        else memory.due.set(key, { at, channelId: channel.id, subject });
      },
      send(channel, alert) {
        deps.sender.enqueue(
          { id: channel.id, name: channel.name, type: channel.type, url_secret_id: channel.url_secret_id },
          alert,
        );
      },
      redactor,
      async cleanExample(destinationId, example) {
        if (!example?.error) return example;
        const redact = await redactor(destinationId);
        return { delivery_id: example.delivery_id, error: redact(example.error) };
      },
    };
  };

  /** Evaluates one pass's work; a subject that fails is logged and the others go on. */
  const runPass = async (work: PassWork, now: number) => {
    if (
      work.pipes.size === 0 &&
      work.destinations.length === 0 &&
      work.flushes.length === 0 &&
      !work.rated?.size &&
      !work.volume
    )
      return;
    const channels = await deps.channels();
    if (channels.length === 0) return;
    const pass = openPass(channels, await deps.config.current(), now);
    const guarded = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        deps.logger.warn('could not evaluate an alert', { subject: what, error: String(err) });
      }
    };
    for (const [pipeId, tally] of work.pipes) await guarded(pipeId, () => evaluatePipe(pass, pipeId, tally));
    for (const signal of work.destinations) {
      await guarded(signal.payload.destination_id, () => evaluateDestination(pass, signal));
    }
    for (const destinationId of work.rated ?? []) {
      await guarded(destinationId, () => evaluateSuccessRate(pass, destinationId));
    }
    if (work.volume) await guarded('volume', () => evaluateVolume(pass));
    for (const [key, item] of work.flushes) await guarded(key, () => evaluateFlush(pass, key, item));
  };

  return { runPass };
}

async function evaluatePipe(pass: Pass, pipeId: string, tally: PipeTally): Promise<void> {
  const watching = channelsForPipe(pass.channels, pipeId);
  if (watching.length === 0) return;
  const subjects = pipeSubjects(pass.config, pipeId, { id: tally.destination_id, name: tally.destination });
  const examples = {
    firstFailure: await pass.cleanExample(tally.destination_id, tally.firstFailure),
    lastFailure: await pass.cleanExample(tally.destination_id, tally.lastFailure),
    firstDead: await pass.cleanExample(tally.destination_id, tally.firstDead),
  };
  const subject: Subject = { type: 'pipe', id: pipeId };
  for (const channel of watching) {
    const key = incidentKey(channel.id, subject);
    if (tally.failures > 0) {
      const rate = rateOf(pass.memory.rates.get(pipeId), channel.failure_rate, pass.now);
      const triggers = pipeTriggers(channel, tally, examples, rate);
      if (triggers.length === 0) continue;
      const cooldownMs = channel.cooldown_seconds * 1000;
      const { state, send: notices } = applyFailures(
        await pass.readState(key),
        triggers,
        tally.failures,
        pass.now,
        cooldownMs,
      );
      await pass.writeState(key, state);
      pass.memory.quietUntil.delete(key);
      pass.trackDue(key, state, channel, subject);
      for (const notice of notices) {
        const extras = notice.kind === 'failure_rate' ? { failureRate: rate } : {};
        pass.send(channel, noticeAlert(notice, subjects, pass.publicBaseUrl, pass.now, extras));
      }
    } else if (tally.delivered > 0) {
      if ((pass.memory.quietUntil.get(key) ?? 0) > pass.now) continue;
      const { state, recovery, changed } = applyRecovery(await pass.readState(key));
      if (changed) await pass.writeState(key, state);
      if (state.incident === null) pass.memory.quietUntil.set(key, pass.now + quietRecheckMs);
      if (recovery) {
        const example = { delivery_id: tally.firstDelivered, error: null };
        pass.send(
          channel,
          recoveryAlert('pipe_recovered', recovery, subjects, example, pass.publicBaseUrl, pass.now),
        );
      }
    }
  }
}

async function evaluateDestination(pass: Pass, signal: DestinationSignal): Promise<void> {
  const destinationId = signal.payload.destination_id;
  const watching = channelsForDestination(pass.channels, pass.config, destinationId);
  if (watching.length === 0) return;
  const last = pass.memory.lastFailures.get(destinationId);
  const subjects = destinationSubjects(
    pass.config,
    { id: destinationId, name: signal.payload.destination },
    last?.pipe_id ?? null,
  );
  const subject: Subject = { type: 'destination', id: destinationId };
  for (const channel of watching) {
    const key = incidentKey(channel.id, subject);
    if (signal.type === 'resumed') {
      const { state, recovery, changed } = applyRecovery(await pass.readState(key));
      if (changed) await pass.writeState(key, state);
      if (recovery) {
        pass.send(
          channel,
          recoveryAlert('destination_resumed', recovery, subjects, null, pass.publicBaseUrl, pass.now),
        );
      }
      continue;
    }
    const example =
      (await pass.cleanExample(destinationId, last?.example ?? null)) ??
      ({
        delivery_id: null,
        error: (await pass.redactor(destinationId))({
          code: 'DESTINATION_PAUSED',
          message: signal.payload.reason,
        }),
      } satisfies AlertExample);
    const { state, send: notices } = applyFailures(
      await pass.readState(key),
      [{ kind: 'destination_paused', count: 1, example }],
      1,
      pass.now,
      channel.cooldown_seconds * 1000,
    );
    await pass.writeState(key, state);
    pass.trackDue(key, state, channel, subject);
    for (const notice of notices) {
      pass.send(
        channel,
        noticeAlert(notice, subjects, pass.publicBaseUrl, pass.now, {
          pausedUntil: signal.payload.paused_until,
          consecutiveFailures: signal.payload.consecutive_failures,
        }),
      );
    }
  }
}

async function evaluateFlush(pass: Pass, key: string, item: DueFlush): Promise<void> {
  const channel = pass.channels.find((c) => c.id === item.channelId);
  if (!channel) return;
  const { state, send: notices } = applyFlush(
    await pass.readState(key),
    pass.now,
    channel.cooldown_seconds * 1000,
  );
  if (notices.length > 0) await pass.writeState(key, state);
  pass.trackDue(key, state, channel, item.subject);
  const subjects =
    item.subject.type === 'pipe'
      ? pipeSubjects(pass.config, item.subject.id)
      : item.subject.type === 'destination'
        ? destinationSubjects(pass.config, { id: item.subject.id }, null)
        : flushSubjects(pass, item.subject);
  for (const notice of notices) {
    const extras =
      notice.kind === 'failure_rate'
        ? { failureRate: rateOf(pass.memory.rates.get(item.subject.id), channel.failure_rate, pass.now) }
        : flushExtras(pass, channel, notice.kind, item.subject);
    pass.send(channel, noticeAlert(notice, subjects, pass.publicBaseUrl, pass.now, extras));
  }
}
