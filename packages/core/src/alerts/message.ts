/**
 * Turning the noise reducer's decisions into {@link Alert}s: titles and sentences an operator reads
 * on a phone, with the pipe, the destination, the error, a count and an example delivery.
 */
import { randomUUID } from 'node:crypto';
import type { AlertExample, NoticeToSend, RecoveryToSend } from './noise.js';
import type { Alert, AlertRecoveryKind, AlertTriggerKind } from './schemas.js';

export interface AlertSubjects {
  pipe: { id: string; name: string } | null;
  destination: { id: string; name: string } | null;
  /** Volume alerts about a source. */
  source?: { id: string; name: string } | null;
  /** Volume alerts about an event type. */
  event_type?: string | null;
}

export interface AlertExtras {
  /** `failure_rate` alerts: the window's numbers. */
  failureRate?: Alert['failure_rate'];
  /** `destination_paused`: when the lane probes again, and why it paused. */
  pausedUntil?: string | null;
  consecutiveFailures?: number;
  /** `volume_anomaly` alerts: the window's numbers. */
  volume?: Alert['volume'];
  /** `success_rate` alerts: the window's numbers. */
  successRate?: Alert['success_rate'];
}

/** The link to a delivery record, when the engine knows its public address. */
export function deliveryUrl(publicBaseUrl: string | null, deliveryId: string | null): string | null {
  if (!publicBaseUrl || !deliveryId) return null;
  return `${publicBaseUrl.replace(/\/+$/, '')}/api/event-deliveries/${encodeURIComponent(deliveryId)}`;
}

/** Messages of one incident share a key, so a receiver can group them and resolve them together. */
export function dedupKey(kind: AlertTriggerKind | AlertRecoveryKind, subjects: AlertSubjects) {
  switch (kind) {
    case 'destination_paused':
    case 'destination_resumed':
      return `openpipes:destination:${subjects.destination?.id ?? 'unknown'}`;
    case 'success_rate':
    case 'success_rate_recovered':
      return `openpipes:destination-success:${subjects.destination?.id ?? 'unknown'}`;
    case 'volume_anomaly':
    case 'volume_recovered':
      return subjects.source
        ? `openpipes:volume:source:${subjects.source.id}`
        : `openpipes:volume:event_type:${subjects.event_type ?? 'unknown'}`;
    default:
      return `openpipes:pipe:${subjects.pipe?.id ?? 'unknown'}`;
  }
}

/** How a volume alert names what it watches: `source "web"` or `event type "purchase"`. */
function volumeSubjectName(subjects: AlertSubjects): string {
  if (subjects.source) return `source "${subjects.source.name}"`;
  return `event type "${subjects.event_type ?? 'unknown'}"`;
}

const plural = (n: number, one: string, many: string) => (n === 1 ? `1 ${one}` : `${n} ${many}`);
const quoted = (entity: { name: string } | null, fallback: string) =>
  entity ? `"${entity.name}"` : fallback;

/** `300` → `5 min`, `45` → `45 s`. */
export function formatSeconds(seconds: number): string {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function base(
  kind: Alert['kind'],
  subjects: AlertSubjects,
  example: AlertExample | null,
  publicBaseUrl: string | null,
  now: number,
): Omit<Alert, 'status' | 'severity' | 'title' | 'text' | 'count' | 'folded' | 'incident_started_at'> {
  const exampleId = example?.delivery_id ?? null;
  return {
    id: randomUUID(),
    kind,
    pipe: subjects.pipe,
    destination: subjects.destination,
    error: example?.error ?? null,
    example_delivery_id: exampleId,
    example_delivery_url: deliveryUrl(publicBaseUrl, exampleId),
    failure_rate: null,
    paused_until: null,
    event_source: subjects.source ?? null,
    event_type: subjects.event_type ?? null,
    volume: null,
    success_rate: null,
    dedup_key: kind === 'test' ? 'openpipes:test' : dedupKey(kind, subjects),
    at: new Date(now).toISOString(),
  };
}

/** The alert for a trigger the reducer decided to send. */
export function noticeAlert(
  notice: NoticeToSend,
  subjects: AlertSubjects,
  publicBaseUrl: string | null,
  now: number,
  extras: AlertExtras = {},
): Alert {
  const pipe = quoted(subjects.pipe, 'a pipe');
  const destination = quoted(subjects.destination, 'its destination');
  const foldedNote = notice.folded > 0 ? ` ${notice.folded} of them were folded in during the cooldown.` : '';
  const afterward = notice.still_open ? '' : ' It has delivered since.';
  let title: string;
  let text: string;
  let severity: Alert['severity'] = 'critical';
  switch (notice.kind) {
    case 'pipe_failing':
      if (notice.opening) {
        title = `Pipe ${pipe} is failing`;
        text = `${plural(notice.count, 'delivery', 'deliveries')} to ${destination} failed.${foldedNote}`;
      } else if (notice.still_open) {
        title = `Pipe ${pipe} is still failing`;
        text = `${plural(notice.count, 'more delivery', 'more deliveries')} to ${destination} failed since the last alert.${foldedNote}`;
      } else {
        title = `Pipe ${pipe} had failures`;
        severity = 'warning';
        text = `${plural(notice.count, 'delivery', 'deliveries')} to ${destination} failed during the cooldown.${afterward}`;
      }
      break;
    case 'delivery_dead':
      title = `${notice.count === 1 ? 'A delivery' : `${notice.count} deliveries`} of pipe ${pipe} went dead`;
      text = `Retries are exhausted: ${notice.count === 1 ? 'the event was' : 'these events were'} not delivered to ${destination}. Replay once the cause is fixed.${foldedNote}${afterward}`;
      break;
    case 'failure_rate': {
      severity = 'warning';
      const rate = extras.failureRate;
      const percent = rate ? Math.round(rate.rate * 100) : null;
      title =
        percent === null ? `Pipe ${pipe}: failure rate high` : `Pipe ${pipe}: ${percent}% of deliveries fail`;
      text = rate
        ? `${rate.failed} of ${rate.total} deliveries to ${destination} failed in the last ${formatSeconds(rate.window_seconds)} (alert threshold ${Math.round(rate.threshold * 100)}%).${foldedNote}${afterward}`
        : `${plural(notice.count, 'failure', 'failures')} while the failure rate was above the threshold.${foldedNote}${afterward}`;
      break;
    }
    case 'destination_paused':
      title = `Destination ${destination} paused by its circuit breaker`;
      text =
        notice.count > 1
          ? `It paused ${notice.count} times since the last alert.${afterward}`
          : `${extras.consecutiveFailures ? `${plural(extras.consecutiveFailures, 'failed batch', 'failed batches')} in a row. ` : ''}Deliveries wait and are retried${extras.pausedUntil ? ` from ${extras.pausedUntil}` : ''}; nothing is lost.${afterward}`;
      break;
    case 'volume_anomaly': {
      severity = 'warning';
      const v = extras.volume;
      const what = volumeSubjectName(subjects);
      const low = v?.direction !== 'above';
      const still = !notice.opening && notice.still_open ? 'still ' : '';
      title = `Volume of ${what} is ${still}${low ? 'low' : 'high'}`;
      text = v
        ? `${v.observed} events in the last ${formatSeconds(v.window_minutes * 60)}, usually ${Math.round(v.usual)} at this hour (average of the last ${plural(v.baseline_days, 'day', 'days')}): ${Math.round(v.ratio * 100)}% of the usual level, the alert is at ${low ? 'under' : 'over'} ${Math.round(v.limit * 100)}%.${afterward}`
        : `The volume of ${what} was off its usual level during the cooldown.${afterward}`;
      break;
    }
    case 'success_rate': {
      const r = extras.successRate;
      const percent = r ? Math.round(r.rate * 100) : null;
      title =
        percent === null
          ? `Destination ${destination}: success rate low`
          : `Destination ${destination}: only ${percent}% of deliveries succeed`;
      text = r
        ? `${r.delivered} of ${r.total} outcomes were delivered in the last ${formatSeconds(r.window_seconds)} (alert under ${Math.round(r.threshold * 100)}%).${foldedNote}${afterward}`
        : `The success rate of ${destination} was under its threshold during the cooldown.${foldedNote}${afterward}`;
      break;
    }
  }
  return {
    ...base(notice.kind, subjects, notice.example, publicBaseUrl, now),
    status: 'firing',
    severity,
    title,
    text,
    count: notice.count,
    folded: notice.folded,
    failure_rate: extras.failureRate ?? null,
    paused_until: extras.pausedUntil ?? null,
    volume: extras.volume ?? null,
    success_rate: extras.successRate ?? null,
    incident_started_at:
      notice.incident_started_at === null ? null : new Date(notice.incident_started_at).toISOString(),
  };
}

/** The message that closes an announced incident. */
export function recoveryAlert(
  kind: AlertRecoveryKind,
  recovery: RecoveryToSend,
  subjects: AlertSubjects,
  example: AlertExample | null,
  publicBaseUrl: string | null,
  now: number,
  extras: Pick<AlertExtras, 'volume' | 'successRate'> = {},
): Alert {
  const since = new Date(recovery.incident_started_at).toISOString();
  const unreported = recovery.unreported > 0 ? ` (${recovery.unreported} not reported before)` : '';
  const destination = quoted(subjects.destination, 'a destination');
  const messages: Record<AlertRecoveryKind, [string, string]> = {
    pipe_recovered: [
      `Pipe ${quoted(subjects.pipe, 'a pipe')} delivers again`,
      `Recovered after ${plural(recovery.failures, 'failed delivery', 'failed deliveries')}${unreported} since ${since}.`,
    ],
    destination_resumed: [
      `Destination ${destination} resumed`,
      `Deliveries flow again after ${plural(recovery.failures, 'pause', 'pauses')}${unreported} since ${since}; the backlog drains now.`,
    ],
    volume_recovered: [
      `Volume of ${volumeSubjectName(subjects)} is back to normal`,
      `${extras.volume ? `${extras.volume.observed} events in the last ${formatSeconds(extras.volume.window_minutes * 60)}, usually ${Math.round(extras.volume.usual)}. ` : ''}Off its usual level since ${since}.`,
    ],
    success_rate_recovered: [
      `Destination ${destination}: success rate back above its threshold`,
      `${extras.successRate ? `${extras.successRate.delivered} of ${extras.successRate.total} outcomes delivered in the last ${formatSeconds(extras.successRate.window_seconds)}. ` : ''}Under the threshold since ${since}.`,
    ],
  };
  const [title, text] = messages[kind];
  return {
    ...base(kind, subjects, example, publicBaseUrl, now),
    volume: extras.volume ?? null,
    success_rate: extras.successRate ?? null,
    error: null,
    status: 'resolved',
    severity: 'resolved',
    title,
    text,
    count: recovery.failures,
    folded: recovery.unreported,
    incident_started_at: since,
  };
}

/** A sample alert for `channels.test()`, shaped like a real `pipe_failing` one. */
export function testAlert(channelName: string, publicBaseUrl: string | null, now: number): Alert {
  const example = {
    delivery_id: 'evd_TEST00000000000000000000000',
    error: {
      code: 'HTTP_400',
      message: 'HTTP 400: {"error":{"message":"Invalid parameter","code":100}} (sample)',
    },
  };
  return {
    ...base(
      'test',
      {
        pipe: { id: 'pip_TEST', name: 'example-pipe' },
        destination: { id: 'dst_TEST', name: 'example-destination' },
      },
      example,
      publicBaseUrl,
      now,
    ),
    status: 'test',
    severity: 'info',
    title: `Test alert from OpenPipes to "${channelName}"`,
    text: 'This channel is wired up. Real alerts look like this one: the pipe, the destination, the error as the platform gave it, a count and an example delivery record.',
    count: 1,
    folded: 0,
    incident_started_at: null,
  };
}
