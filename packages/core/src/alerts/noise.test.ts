import { describe, expect, it } from 'vitest';
import {
  type AlertExample,
  applyFailures,
  applyFlush,
  applyRecovery,
  emptySubjectState,
  nextFlushAt,
  type SubjectState,
  toSubjectState,
} from './noise.js';

const cooldown = 60_000;
const example = (id: string): AlertExample => ({
  delivery_id: id,
  error: { code: 'HTTP_400', message: 'HTTP 400: Invalid parameter' },
});
const fail = (state: SubjectState, now: number, count = 1, id = `evd_${now}`) =>
  applyFailures(state, [{ kind: 'pipe_failing', count, example: example(id) }], count, now, cooldown);

describe('noise control', () => {
  it('announces the first failure after a healthy period and folds the next ones into the cooldown', () => {
    const first = fail(emptySubjectState(), 1_000);
    expect(first.send).toEqual([
      {
        kind: 'pipe_failing',
        count: 1,
        folded: 0,
        example: example('evd_1000'),
        opening: true,
        still_open: true,
        incident_started_at: 1_000,
      },
    ]);
    const second = fail(first.state, 2_000, 3);
    const third = fail(second.state, 3_000, 2, 'evd_last');
    expect(second.send).toEqual([]);
    expect(third.send).toEqual([]);
    expect(third.state.notices.pipe_failing).toMatchObject({ folded: 5, last_sent_at: 1_000 });
    expect(third.state.incident).toMatchObject({ opened_at: 1_000, failures: 6, announced: true });
    expect(nextFlushAt(third.state, cooldown)).toBe(61_000);
  });

  it('sends the folded count once the cooldown is over, as a "still failing" message', () => {
    let state = fail(emptySubjectState(), 0).state;
    state = fail(state, 10_000, 4, 'evd_folded').state;
    expect(applyFlush(state, 59_999, cooldown).send).toEqual([]);
    const flushed = applyFlush(state, 60_000, cooldown);
    expect(flushed.send).toEqual([
      {
        kind: 'pipe_failing',
        count: 4,
        folded: 4,
        example: example('evd_folded'),
        opening: false,
        still_open: true,
        incident_started_at: 0,
      },
    ]);
    expect(nextFlushAt(flushed.state, cooldown)).toBeNull();
    // A failure after the cooldown goes out at once, with anything folded before it.
    const later = fail(flushed.state, 130_000, 2);
    expect(later.send[0]).toMatchObject({ count: 2, folded: 0, opening: false });
  });

  it('closes an announced incident with a recovery that reports what was folded', () => {
    let state = fail(emptySubjectState(), 0).state;
    state = fail(state, 5_000, 3).state;
    const recovered = applyRecovery(state);
    expect(recovered.recovery).toEqual({ incident_started_at: 0, failures: 4, unreported: 3 });
    expect(recovered.state.incident).toBeNull();
    expect(recovered.state.notices.pipe_failing?.folded).toBe(0);
    // Nothing is left to flush, and a second recovery is a no-op.
    expect(applyFlush(recovered.state, 1_000_000, cooldown).send).toEqual([]);
    expect(applyRecovery(recovered.state)).toMatchObject({ recovery: null, changed: false });
  });

  it('keeps a flapping pipe to one failure message per cooldown, and sends no recovery for a silent incident', () => {
    let state = fail(emptySubjectState(), 0).state;
    const firstRecovery = applyRecovery(state);
    expect(firstRecovery.recovery).not.toBeNull();
    state = firstRecovery.state;
    // It fails again 10 s later: a new incident, inside the cooldown, so folded and not announced.
    const again = fail(state, 10_000, 2);
    expect(again.send).toEqual([]);
    expect(again.state.incident).toMatchObject({ announced: false });
    const silent = applyRecovery(again.state);
    expect(silent.recovery).toBeNull();
    expect(silent.changed).toBe(true);
    // The cooldown's summary reports the two failures and says the pipe delivers again.
    const summary = applyFlush(silent.state, 60_000, cooldown);
    expect(summary.send).toEqual([
      expect.objectContaining({ kind: 'pipe_failing', count: 2, folded: 2, still_open: false }),
    ]);
  });

  it('keeps a cooldown per kind', () => {
    const both = applyFailures(
      emptySubjectState(),
      [
        { kind: 'pipe_failing', count: 2, example: example('a') },
        { kind: 'delivery_dead', count: 1, example: example('b') },
      ],
      2,
      0,
      cooldown,
    );
    expect(both.send.map((s) => s.kind)).toEqual(['pipe_failing', 'delivery_dead']);
    const dead = applyFailures(
      both.state,
      [{ kind: 'delivery_dead', count: 1, example: example('c') }],
      1,
      1_000,
      cooldown,
    );
    expect(dead.send).toEqual([]);
    expect(dead.state.notices.delivery_dead?.folded).toBe(1);
    expect(dead.state.notices.pipe_failing?.folded).toBe(0);
  });

  it('with a zero cooldown sends every time', () => {
    const first = applyFailures(
      emptySubjectState(),
      [{ kind: 'pipe_failing', count: 1, example: null }],
      1,
      0,
      0,
    );
    const second = applyFailures(first.state, [{ kind: 'pipe_failing', count: 1, example: null }], 1, 0, 0);
    expect(second.send).toHaveLength(1);
  });

  it('reads garbage from the store as an empty state', () => {
    expect(toSubjectState(null)).toEqual(emptySubjectState());
    expect(toSubjectState('x')).toEqual(emptySubjectState());
    expect(toSubjectState({ incident: { opened_at: 'no' } })).toEqual(emptySubjectState());
  });

  it('does not change the state it was given', () => {
    const start = fail(emptySubjectState(), 0).state;
    const snapshot = structuredClone(start);
    fail(start, 1_000, 5);
    applyRecovery(start);
    applyFlush(start, 100_000, cooldown);
    expect(start).toEqual(snapshot);
  });
});
