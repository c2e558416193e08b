/**
 * Noise control, as pure functions over a small JSON state (kept in the store, so every process
 * sees the same incidents). One state per (channel, subject), where the subject is a pipe or a
 * destination:
 *
 * - An incident opens with the subject's first failure after a healthy period and closes when it
 *   is healthy again (the pipe delivers, the destination resumes).
 * - Each kind sends at most one message per cooldown. What comes in during the cooldown is folded:
 *   counted, and reported by the next message of that kind (sent when the cooldown ends) or by the
 *   recovery.
 * - A recovery message is sent only for an incident that was announced: a failure folded away in
 *   the cooldown of an earlier incident is reported by the cooldown's summary instead, so a flapping
 *   pipe cannot ping the channel once per flap.
 *
 * Times are ms since the epoch; the clock is always passed in.
 */
import type { AlertTriggerKind } from './schemas.js';

/** A delivery that illustrates an alert, with the error it got (already redacted). */
export interface AlertExample {
  delivery_id: string | null;
  error: { code: string; message: string } | null;
}

export interface NoticeState {
  /** When this kind last sent a message for the subject; null = never. */
  last_sent_at: number | null;
  /** Failures counted during the cooldown, not yet reported. */
  folded: number;
  /** The latest folded example. */
  folded_example: AlertExample | null;
}

export interface IncidentState {
  opened_at: number;
  /** Failures (or pauses) since the incident opened. */
  failures: number;
  /** Whether any message was sent for this incident (only then is its recovery sent). */
  announced: boolean;
}

/** What is stored per (channel, subject). JSON-safe. */
export interface SubjectState {
  incident: IncidentState | null;
  notices: Partial<Record<AlertTriggerKind, NoticeState>>;
}

/** One kind firing for a subject, with how many failures it saw. */
export interface Trigger {
  kind: AlertTriggerKind;
  count: number;
  example: AlertExample | null;
}

/** A message the reducer decided to send. */
export interface NoticeToSend {
  kind: AlertTriggerKind;
  /** Failures reported: the folded ones plus the new ones. */
  count: number;
  /** Of `count`, how many had been folded in. */
  folded: number;
  example: AlertExample | null;
  /** True when this message opens the incident (the first failure after a healthy period). */
  opening: boolean;
  /** False when the incident already closed again (a cooldown summary after the fact). */
  still_open: boolean;
  incident_started_at: number | null;
}

export interface RecoveryToSend {
  incident_started_at: number;
  /** Failures during the whole incident. */
  failures: number;
  /** Of those, how many no earlier message reported (they were folded). */
  unreported: number;
}

export const emptySubjectState = (): SubjectState => ({ incident: null, notices: {} });

/** Reads a stored state defensively (the store holds JSON from any version of this code). */
export function toSubjectState(value: unknown): SubjectState {
  if (value === null || typeof value !== 'object') return emptySubjectState();
  const raw = value as Partial<SubjectState>;
  return {
    incident: raw.incident && typeof raw.incident.opened_at === 'number' ? { ...raw.incident } : null,
    notices: raw.notices && typeof raw.notices === 'object' ? structuredClone(raw.notices) : {},
  };
}

const coolingDown = (notice: NoticeState, now: number, cooldownMs: number) =>
  notice.last_sent_at !== null && now - notice.last_sent_at < cooldownMs;

/**
 * Failures for a subject: opens the incident if none is open, and for each trigger either sends a
 * message (outside the cooldown) or folds the count into the next one.
 *
 * @example
 * ```ts
 * const { state, send } = applyFailures(emptySubjectState(), [{ kind: 'pipe_failing', count: 1, example }], 1, now, 900_000);
 * // send[0].opening === true; a second call within 15 minutes folds instead
 * ```
 */
export function applyFailures(
  previous: SubjectState,
  triggers: Trigger[],
  failures: number,
  now: number,
  cooldownMs: number,
): { state: SubjectState; send: NoticeToSend[] } {
  const state = toSubjectState(previous);
  const opening = state.incident === null;
  const incident: IncidentState = state.incident ?? { opened_at: now, failures: 0, announced: false };
  incident.failures += failures;
  state.incident = incident;
  const send: NoticeToSend[] = [];
  for (const trigger of triggers) {
    const notice: NoticeState = state.notices[trigger.kind] ?? {
      last_sent_at: null,
      folded: 0,
      folded_example: null,
    };
    if (coolingDown(notice, now, cooldownMs)) {
      notice.folded += trigger.count;
      notice.folded_example = trigger.example ?? notice.folded_example;
    } else {
      send.push({
        kind: trigger.kind,
        count: notice.folded + trigger.count,
        folded: notice.folded,
        example: trigger.example ?? notice.folded_example,
        opening,
        still_open: true,
        incident_started_at: incident.opened_at,
      });
      notice.last_sent_at = now;
      notice.folded = 0;
      notice.folded_example = null;
      incident.announced = true;
    }
    state.notices[trigger.kind] = notice;
  }
  return { state, send };
}

/**
 * The subject is healthy again: closes the incident. The recovery is sent when the incident was
 * announced, and it reports (and clears) what was folded; otherwise the folded counts stay for the
 * cooldown's summary.
 */
export function applyRecovery(previous: SubjectState): {
  state: SubjectState;
  recovery: RecoveryToSend | null;
  changed: boolean;
} {
  const state = toSubjectState(previous);
  const incident = state.incident;
  if (!incident) return { state, recovery: null, changed: false };
  state.incident = null;
  if (!incident.announced) return { state, recovery: null, changed: true };
  let unreported = 0;
  for (const notice of Object.values(state.notices)) {
    if (!notice) continue;
    unreported += notice.folded;
    notice.folded = 0;
    notice.folded_example = null;
  }
  return {
    state,
    recovery: { incident_started_at: incident.opened_at, failures: incident.failures, unreported },
    changed: true,
  };
}

/** Sends what was folded for each kind whose cooldown has ended. */
export function applyFlush(
  previous: SubjectState,
  now: number,
  cooldownMs: number,
): { state: SubjectState; send: NoticeToSend[] } {
  const state = toSubjectState(previous);
  const send: NoticeToSend[] = [];
  for (const [kind, notice] of Object.entries(state.notices) as Array<[AlertTriggerKind, NoticeState]>) {
    if (!notice || notice.folded === 0 || coolingDown(notice, now, cooldownMs)) continue;
    send.push({
      kind,
      count: notice.folded,
      folded: notice.folded,
      example: notice.folded_example,
      opening: false,
      still_open: state.incident !== null,
      incident_started_at: state.incident?.opened_at ?? null,
    });
    notice.last_sent_at = now;
    notice.folded = 0;
    notice.folded_example = null;
    if (state.incident) state.incident.announced = true;
  }
  return { state, send };
}

/** When the earliest folded count of this state may be sent; null when nothing is folded. */
export function nextFlushAt(state: SubjectState, cooldownMs: number): number | null {
  let next: number | null = null;
  for (const notice of Object.values(state.notices)) {
    if (!notice || notice.folded === 0 || notice.last_sent_at === null) continue;
    const due = notice.last_sent_at + cooldownMs;
    if (next === null || due < next) next = due;
  }
  return next;
}

/** True when the state holds nothing worth keeping: no incident and nothing folded. */
export function isQuiet(state: SubjectState): boolean {
  return state.incident === null && Object.values(state.notices).every((n) => !n || n.folded === 0);
}
