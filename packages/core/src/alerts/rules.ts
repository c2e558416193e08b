/**
 * Which channels care about what happened, which of their rules fire, and who the alert is about,
 * as pure functions of the channels, the configuration and the counted outcomes.
 */
import type { ConfigSnapshot } from '../config.js';
import type { AlertSubjects } from './message.js';
import type { AlertExample, Trigger } from './noise.js';
import type { Alert, AlertChannelConfig, AlertTriggerKind } from './schemas.js';
import type { PipeTally } from './tally.js';
import type { VolumeSubject } from './volume.js';

/**
 * What an incident is about: a pipe (failing, dead, rate), a destination (paused), a destination's
 * success rate, or a volume (`source:<id>` or `event_type:<name>`).
 */
export type Subject = { type: 'pipe' | 'destination' | 'destination_rate' | 'volume'; id: string };

const pipeTriggerKinds = new Set<AlertTriggerKind>(['pipe_failing', 'delivery_dead', 'failure_rate']);

/** Where a channel's incident state about a subject is stored. */
export const incidentKey = (channelId: string, subject: Subject) =>
  `alerts:incident:${channelId}:${subject.type}:${subject.id}`;

/** Whether a channel watches a pipe (no `pipe_ids` = every pipe). */
export const watchesPipe = (channel: AlertChannelConfig, pipeId: string) =>
  channel.pipe_ids.length === 0 || channel.pipe_ids.includes(pipeId);

/**
 * The channels with a pipe rule (`pipe_failing`, `delivery_dead`, `failure_rate`) that watch a pipe.
 *
 * @example
 * ```ts
 * const watching = channelsForPipe(channels, 'pip_1');
 * ```
 */
export function channelsForPipe(channels: AlertChannelConfig[], pipeId: string): AlertChannelConfig[] {
  return channels.filter((c) => watchesPipe(c, pipeId) && c.kinds.some((kind) => pipeTriggerKinds.has(kind)));
}

/**
 * The channels with a destination rule (`destination_paused` by default, or `success_rate`) that
 * watch any pipe of a destination.
 *
 * @example
 * ```ts
 * const watching = channelsForDestination(channels, config, 'dst_1');
 * const rated = channelsForDestination(channels, config, 'dst_1', 'success_rate');
 * ```
 */
export function channelsForDestination(
  channels: AlertChannelConfig[],
  config: ConfigSnapshot,
  destinationId: string,
  kind: 'destination_paused' | 'success_rate' = 'destination_paused',
): AlertChannelConfig[] {
  const pipes = [...config.pipes.values()].filter((p) => p.destination_id === destinationId).map((p) => p.id);
  return channels.filter(
    (c) => c.kinds.includes(kind) && (c.pipe_ids.length === 0 || c.pipe_ids.some((id) => pipes.includes(id))),
  );
}

/**
 * The channels with a `volume_anomaly` rule that watch a volume subject: a source reaches the
 * channels watching every pipe or one of the source's pipes; an event type (summed over all
 * sources) only the channels watching every pipe.
 *
 * @example
 * ```ts
 * const watching = channelsForVolume(channels, config, { kind: 'source', key: 'src_1' });
 * ```
 */
export function channelsForVolume(
  channels: AlertChannelConfig[],
  config: ConfigSnapshot,
  subject: VolumeSubject,
): AlertChannelConfig[] {
  return channels.filter((c) => {
    if (!c.kinds.includes('volume_anomaly') || !c.volume_anomaly.watch.includes(subject.kind)) return false;
    if (c.pipe_ids.length === 0) return true;
    if (subject.kind === 'event_type') return false;
    return c.pipe_ids.some((id) => config.pipes.get(id)?.source_id === subject.key);
  });
}

/**
 * Who a volume alert is about, by name: the source (by slug) or the event type.
 *
 * @example
 * ```ts
 * volumeSubjects(config, { kind: 'source', key: 'src_1' }); // { source: { id: 'src_1', name: 'web' }, ... }
 * ```
 */
export function volumeSubjects(config: ConfigSnapshot, subject: VolumeSubject): AlertSubjects {
  if (subject.kind === 'event_type') {
    return { pipe: null, destination: null, source: null, event_type: subject.key };
  }
  const source = [...config.sourcesBySlug.values()].find((s) => s.id === subject.key);
  return {
    pipe: null,
    destination: null,
    source: { id: subject.key, name: source?.slug ?? subject.key },
    event_type: null,
  };
}

/** `source:src_1` → the subject; null for anything else. */
export function parseVolumeSubject(id: string): VolumeSubject | null {
  const colon = id.indexOf(':');
  const kind = id.slice(0, colon);
  if (colon < 0 || (kind !== 'source' && kind !== 'event_type')) return null;
  return { kind, key: id.slice(colon + 1) };
}

/**
 * The rules of a channel that fire for a pipe's failures since the last pass: `pipe_failing` on
 * any failure, `delivery_dead` on a dead delivery, `failure_rate` when the rate over the channel's
 * window reaches its threshold with at least `min_events` outcomes.
 *
 * @example
 * ```ts
 * const triggers = pipeTriggers(channel, tally, examples, rateOf(buckets, channel.failure_rate, now));
 * ```
 */
export function pipeTriggers(
  channel: AlertChannelConfig,
  tally: Pick<PipeTally, 'failures' | 'dead'>,
  examples: {
    firstFailure: AlertExample | null;
    lastFailure: AlertExample | null;
    firstDead: AlertExample | null;
  },
  rate: NonNullable<Alert['failure_rate']>,
): Trigger[] {
  const triggers: Trigger[] = [];
  if (tally.failures === 0) return triggers;
  if (channel.kinds.includes('pipe_failing')) {
    triggers.push({ kind: 'pipe_failing', count: tally.failures, example: examples.firstFailure });
  }
  if (channel.kinds.includes('delivery_dead') && tally.dead > 0) {
    triggers.push({ kind: 'delivery_dead', count: tally.dead, example: examples.firstDead });
  }
  if (
    channel.kinds.includes('failure_rate') &&
    rate.total >= channel.failure_rate.min_events &&
    rate.rate >= channel.failure_rate.threshold
  ) {
    triggers.push({ kind: 'failure_rate', count: tally.failures, example: examples.lastFailure });
  }
  return triggers;
}

/**
 * Who a pipe's alert is about, by name (ids where the pipe or destination is gone).
 *
 * @example
 * ```ts
 * pipeSubjects(config, 'pip_1'); // { pipe: { id, name }, destination: { id, name } }
 * ```
 */
export function pipeSubjects(
  config: ConfigSnapshot,
  pipeId: string,
  fallbackDestination?: { id: string; name: string },
): AlertSubjects {
  const pipe = config.pipes.get(pipeId);
  const destinationId = pipe?.destination_id ?? fallbackDestination?.id ?? null;
  const destination = destinationId ? config.destinations.get(destinationId) : undefined;
  return {
    pipe: { id: pipeId, name: pipe?.name ?? pipeId },
    destination: destinationId
      ? { id: destinationId, name: destination?.name ?? fallbackDestination?.name ?? destinationId }
      : null,
  };
}

/**
 * Who a destination's alert is about: the destination, and the pipe of its last failure if known.
 *
 * @example
 * ```ts
 * destinationSubjects(config, { id: 'dst_1', name: 'meta' }, 'pip_1');
 * ```
 */
export function destinationSubjects(
  config: ConfigSnapshot,
  destination: { id: string; name?: string },
  lastFailedPipeId: string | null,
): AlertSubjects {
  return {
    pipe: lastFailedPipeId
      ? { id: lastFailedPipeId, name: config.pipes.get(lastFailedPipeId)?.name ?? lastFailedPipeId }
      : null,
    destination: {
      id: destination.id,
      name: destination.name ?? config.destinations.get(destination.id)?.name ?? destination.id,
    },
  };
}
