/**
 * Volume anomalies, as pure functions: counting accepted events per minute (flushed to the store
 * once a minute), the windows a check compares, the usual level from the store's per-minute
 * history, and the verdict. Times are ms since the epoch, always passed in (the engine's clock).
 *
 * The usual level of a subject (a source, or an event type over all sources) for a window is the
 * average, over the last `baseline_days` days, of its events in the same clock hour of those days,
 * scaled to the window's length. Only days on which the store counted anything in that hour count
 * (a fresh install has no history, not a history of zeros); with fewer than half the days known,
 * there is no verdict.
 */
import type { VolumeCount } from '../store.js';
import type { VolumeAnomaly } from './schemas.js';

const minuteMs = 60_000;
const hourMs = 3_600_000;
const dayMs = 86_400_000;

/** Volume counts are kept this long (the longest `baseline_days`, plus a day). */
export const volumeRetentionMs = 29 * dayMs;

/** What a volume alert is about: `source:<source id>` or `event_type:<name>`. */
export interface VolumeSubject {
  kind: 'source' | 'event_type';
  /** The source id, or the event type's name. */
  key: string;
}

export const volumeSubjectId = (s: VolumeSubject) => `${s.kind}:${s.key}`;

/** Accepted events per minute (ms), source and event type, waiting to be written to the store. */
export type VolumeCounter = Map<string, VolumeCount>;

/**
 * Counts accepted events into the pending per-minute counts.
 *
 * @example
 * ```ts
 * countVolume(pending, clock(), 'src_1', 'purchase', 3);
 * ```
 */
export function countVolume(
  pending: VolumeCounter,
  now: number,
  sourceId: string,
  eventType: string,
  count: number,
): void {
  const minute = minuteOf(now);
  const key = `${minute}\u0000${sourceId}\u0000${eventType}`;
  const found = pending.get(key);
  if (found) found.count += count;
  else pending.set(key, { minute, source_id: sourceId, event_type: eventType, count });
}

// Ingest counts every call: the minute's ISO text is made once per minute, not once per call.
let lastMinute = { start: Number.NaN, iso: '' };

/** The start of `now`'s minute, ISO 8601. */
function minuteOf(now: number): string {
  const start = Math.floor(now / minuteMs) * minuteMs;
  if (start !== lastMinute.start) lastMinute = { start, iso: new Date(start).toISOString() };
  return lastMinute.iso;
}

/** A time range `[since, until)`, ISO 8601. */
export interface Range {
  since: string;
  until: string;
}

/**
 * The windows a check at `now` reads: the observed window (the last `window_minutes` whole
 * minutes, ending a minute before the current one so every process has flushed it), and for each
 * baseline day the clock hour holding the window's middle, that many days earlier.
 *
 * @example
 * ```ts
 * const { observed, baseline } = volumeWindows(clock(), settings);
 * ```
 */
export function volumeWindows(
  now: number,
  settings: Pick<VolumeAnomaly, 'window_minutes' | 'baseline_days'>,
): { observed: Range; baseline: Range[] } {
  const until = Math.floor(now / minuteMs) * minuteMs - minuteMs;
  const since = until - settings.window_minutes * minuteMs;
  const hour = Math.floor((since + (until - since) / 2) / hourMs) * hourMs;
  const baseline: Range[] = [];
  for (let day = 1; day <= settings.baseline_days; day++) {
    const start = hour - day * dayMs;
    baseline.push({ since: iso(start), until: iso(start + hourMs) });
  }
  return { observed: { since: iso(since), until: iso(until) }, baseline };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Store rows summed per subject (`source:<id>`, `event_type:<name>`). */
export function totalsBySubject(
  rows: ReadonlyArray<{ source_id: string; event_type: string; count: number }>,
): Map<string, number> {
  const totals = new Map<string, number>();
  for (const row of rows) {
    for (const id of [`source:${row.source_id}`, `event_type:${row.event_type}`]) {
      totals.set(id, (totals.get(id) ?? 0) + row.count);
    }
  }
  return totals;
}

/**
 * The usual level of a subject for a window: the mean of its count over the baseline days the
 * store counted anything (`days[i]` empty = a day without history), scaled from an hour to the
 * window. Null when fewer than half of the days are known.
 */
export function usualLevel(
  days: ReadonlyArray<Map<string, number>>,
  subjectId: string,
  windowMinutes: number,
): number | null {
  const known = days.filter((d) => d.size > 0);
  if (known.length === 0 || known.length * 2 < days.length) return null;
  const perHour = known.reduce((sum, d) => sum + (d.get(subjectId) ?? 0), 0) / known.length;
  return (perHour * windowMinutes) / 60;
}

/** What a check concluded about one subject. */
export type VolumeVerdict =
  | { state: 'unknown' }
  | { state: 'normal'; observed: number; usual: number }
  | { state: 'below' | 'above'; observed: number; usual: number; limit: number };

/**
 * Compares the observed volume with the usual level. A usual level under `min_usual` (or unknown)
 * gives no verdict: too little history or traffic to call anything abnormal.
 *
 * @example
 * ```ts
 * volumeVerdict(12, 100, settings); // { state: 'below', observed: 12, usual: 100, limit: 0.5 }
 * ```
 */
export function volumeVerdict(
  observed: number,
  usual: number | null,
  settings: Pick<VolumeAnomaly, 'below' | 'above' | 'min_usual'>,
): VolumeVerdict {
  if (usual === null || usual < settings.min_usual) return { state: 'unknown' };
  if (settings.below !== null && observed < usual * settings.below) {
    return { state: 'below', observed, usual, limit: settings.below };
  }
  if (settings.above !== null && observed > usual * settings.above) {
    return { state: 'above', observed, usual, limit: settings.above };
  }
  return { state: 'normal', observed, usual };
}
