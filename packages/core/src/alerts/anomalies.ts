/**
 * The evaluations of alerts on levels rather than single failures: a destination's success rate
 * over a sliding window (`success_rate`), and each source's or event type's volume against its
 * usual level for this hour (`volume_anomaly`). Both open and close incidents through the same
 * noise reducer, cooldowns and recovery messages as the failure alerts (`evaluate.ts`).
 */
import type { Pass } from './evaluate.js';
import type { AlertExtras, AlertSubjects } from './message.js';
import { noticeAlert, recoveryAlert } from './message.js';
import { applyFailures, applyRecovery } from './noise.js';
import {
  channelsForDestination,
  channelsForVolume,
  destinationSubjects,
  incidentKey,
  parseVolumeSubject,
  type Subject,
  volumeSubjects,
} from './rules.js';
import type { Alert, AlertChannelConfig, AlertRecoveryKind, AlertTriggerKind } from './schemas.js';
import { rateOf } from './tally.js';
import {
  type Range,
  totalsBySubject,
  usualLevel,
  volumeSubjectId,
  volumeVerdict,
  volumeWindows,
} from './volume.js';

/** A destination's success rate over a channel's window. */
export function successRateOf(
  pass: Pick<Pass, 'memory' | 'now'>,
  channel: AlertChannelConfig,
  destinationId: string,
): NonNullable<Alert['success_rate']> {
  const settings = channel.success_rate;
  const rate = rateOf(
    pass.memory.destinationRates.get(destinationId),
    {
      threshold: settings.threshold,
      window_seconds: settings.window_seconds,
      min_events: settings.min_events,
    },
    pass.now,
  );
  const delivered = rate.total - rate.failed;
  return {
    delivered,
    total: rate.total,
    rate: rate.total === 0 ? 1 : delivered / rate.total,
    threshold: settings.threshold,
    window_seconds: settings.window_seconds,
  };
}

/** One level check of one channel about one subject: open (or fold into) an incident, or close it. */
async function applyLevel(
  pass: Pass,
  channel: AlertChannelConfig,
  subject: Subject,
  subjects: AlertSubjects,
  level: 'off' | 'normal',
  kinds: { trigger: AlertTriggerKind; recovery: AlertRecoveryKind },
  extras: AlertExtras,
): Promise<void> {
  const key = incidentKey(channel.id, subject);
  if (level === 'off') {
    const { state, send } = applyFailures(
      await pass.readState(key),
      [{ kind: kinds.trigger, count: 1, example: null }],
      1,
      pass.now,
      channel.cooldown_seconds * 1000,
    );
    await pass.writeState(key, state);
    pass.memory.quietUntil.delete(key);
    pass.trackDue(key, state, channel, subject);
    for (const notice of send)
      pass.send(channel, noticeAlert(notice, subjects, pass.publicBaseUrl, pass.now, extras));
    return;
  }
  // Healthy: most checks find no incident; do not ask the store again for a while.
  if ((pass.memory.quietUntil.get(key) ?? 0) > pass.now) return;
  const { state, recovery, changed } = applyRecovery(await pass.readState(key));
  if (changed) await pass.writeState(key, state);
  if (state.incident === null) pass.memory.quietUntil.set(key, pass.now + 60_000);
  if (recovery) {
    pass.send(
      channel,
      recoveryAlert(kinds.recovery, recovery, subjects, null, pass.publicBaseUrl, pass.now, extras),
    );
  }
}

/**
 * A destination recorded outcomes: for each channel watching it, its success rate over the
 * channel's window opens an incident when under the threshold with at least `min_events`
 * outcomes, and closes it when back at or over the threshold (with as many outcomes).
 */
export async function evaluateSuccessRate(pass: Pass, destinationId: string): Promise<void> {
  const watching = channelsForDestination(pass.channels, pass.config, destinationId, 'success_rate');
  if (watching.length === 0) return;
  const subjects = destinationSubjects(pass.config, { id: destinationId }, null);
  const subject: Subject = { type: 'destination_rate', id: destinationId };
  for (const channel of watching) {
    const rate = successRateOf(pass, channel, destinationId);
    if (rate.total < channel.success_rate.min_events) continue;
    const level = rate.rate < channel.success_rate.threshold ? 'off' : 'normal';
    await applyLevel(
      pass,
      channel,
      subject,
      subjects,
      level,
      { trigger: 'success_rate', recovery: 'success_rate_recovered' },
      { successRate: rate },
    );
  }
}

/**
 * A volume check: for every channel with a `volume_anomaly` rule, reads the observed window and
 * the baseline hours from the store (each range once per pass), and judges every subject the
 * channel watches: the configured sources, the event types, and whatever the history holds.
 */
export async function evaluateVolume(pass: Pass): Promise<void> {
  const channels = pass.channels.filter((c) => c.kinds.includes('volume_anomaly'));
  if (channels.length === 0) return;
  const reads = new Map<string, Promise<Map<string, number>>>();
  const totals = (range: Range) => {
    const id = `${range.since}/${range.until}`;
    let found = reads.get(id);
    if (!found) {
      found = pass.store.volumeTotals(range).then(totalsBySubject);
      reads.set(id, found);
    }
    return found;
  };
  for (const channel of channels) {
    const settings = channel.volume_anomaly;
    const windows = volumeWindows(pass.now, settings);
    const observed = await totals(windows.observed);
    const days = await Promise.all(windows.baseline.map(totals));
    const candidates = new Set<string>();
    for (const source of pass.config.sourcesBySlug.values()) {
      if (source.enabled) candidates.add(`source:${source.id}`);
    }
    for (const name of pass.config.eventTypes.keys()) candidates.add(`event_type:${name}`);
    for (const day of days) for (const id of day.keys()) candidates.add(id);
    for (const id of candidates) {
      const volumeSubject = parseVolumeSubject(id);
      if (!volumeSubject || !channelsForVolume([channel], pass.config, volumeSubject).length) continue;
      const verdict = volumeVerdict(
        observed.get(id) ?? 0,
        usualLevel(days, id, settings.window_minutes),
        settings,
      );
      if (verdict.state === 'unknown') continue;
      const numbers: NonNullable<Alert['volume']> = {
        observed: verdict.observed,
        usual: verdict.usual,
        ratio: verdict.usual === 0 ? 0 : verdict.observed / verdict.usual,
        direction: verdict.state === 'above' ? 'above' : 'below',
        limit: verdict.state === 'normal' ? (settings.below ?? settings.above ?? 0) : verdict.limit,
        window_minutes: settings.window_minutes,
        baseline_days: settings.baseline_days,
      };
      pass.memory.lastVolume.set(`${channel.id}|${volumeSubjectId(volumeSubject)}`, numbers);
      await applyLevel(
        pass,
        channel,
        { type: 'volume', id },
        volumeSubjects(pass.config, volumeSubject),
        verdict.state === 'normal' ? 'normal' : 'off',
        { trigger: 'volume_anomaly', recovery: 'volume_recovered' },
        { volume: numbers },
      );
    }
  }
}

/** Who a folded alert about a volume or a destination's success rate is about. */
export function flushSubjects(pass: Pass, subject: Subject): AlertSubjects {
  if (subject.type === 'volume') {
    const parsed = parseVolumeSubject(subject.id);
    if (parsed) return volumeSubjects(pass.config, parsed);
  }
  return destinationSubjects(pass.config, { id: subject.id }, null);
}

/** The numbers a folded alert reports: the latest of its subject. */
export function flushExtras(
  pass: Pass,
  channel: AlertChannelConfig,
  kind: AlertTriggerKind,
  subject: Subject,
): AlertExtras {
  if (kind === 'success_rate') return { successRate: successRateOf(pass, channel, subject.id) };
  if (kind === 'volume_anomaly') {
    const last = pass.memory.lastVolume.get(`${channel.id}|${subject.id}`);
    return last ? { volume: last } : {};
  }
  return {};
}
