/**
 * Group commit: the calls of a write method made while the event loop handles one round of I/O
 * (single-event collect requests arriving on several connections, say) are written in one
 * transaction just after it (`setImmediate`), and each call resolves once that transaction has
 * committed. A caller is told its write is stored only when it is on disk, as before, but a burst of
 * small writes pays for one commit instead of one each (the commit is most of a small write's cost).
 * A lone call waits for nothing: its group is written at the end of the same loop turn.
 *
 * Unless another thread of the process holds the write turn then (write-turn.ts: under `openpipes
 * serve`, the dispatch thread in its transaction): ingest's group then stays open until the turn is
 * given back (`afterWriteTurn`, at most `turnWaitMs`), the thread free meanwhile to take more
 * requests, whose calls join it and share its transaction, instead of blocking on the turn while
 * they queue up for the next group. Each call still resolves only once its group has committed.
 *
 * One call's failure is never another's. If the group's transaction fails, nothing of it was stored
 * and the group is written once more, each call in a SAVEPOINT of its own (`tx` called inside a
 * transaction: better-sqlite3 nests it as one): a call that fails again (a constraint its rows break,
 * identity's writes that throw) rolls back only its own writes and is rejected with its own error,
 * while the others commit together, all their writes included: ingest's events with their identity
 * links, say, whose caller falls back to the events alone only when its own call failed
 * (`appendWithIdentity` in core's ingest.ts). Savepoints only on that second pass: each costs its
 * changed pages copied to a statement journal, which slowed a group of ten single-event appends
 * with identity from ~310 to ~500 µs an event.
 *
 * If that second transaction fails as a whole too (its commit, or a failure after which SQLite has
 * rolled the whole transaction back, as it may for a full disk or an I/O error), each call is written
 * again in a transaction of its own. Two failures no call caused fail the whole group at once instead:
 * another process holding the lock past `busy_timeout` (each call alone would wait it out again, the
 * event loop blocked every time: 100 pending calls, 100 x 5 s), and a closed store. Other failures
 * (a full disk included: a lone small write may still fit) are retried call by call.
 */
import { isLockedElsewhere } from './connection.js';
export function groupCommit<A, R>(
  database: {
    /** Runs `fn` in a transaction; called inside one, in a savepoint of it. */
    tx: <T>(fn: () => T) => T;
    /** Whether a transaction is open (SQLite ends one itself after some failures). */
    inTransaction: () => boolean;
    /**
     * False when the group can be written now; otherwise true, and it calls `run` when it can
     * (the other thread gave the write turn back): the group stays open meanwhile.
     */
    afterWriteTurn?: (run: () => void) => boolean;
  },
  write: (args: A) => R,
): (args: A) => Promise<R> {
  const { tx, inTransaction, afterWriteTurn } = database;
  type Outcome = { ok: true; result: R } | { ok: false; error: unknown };
  interface Waiting {
    args: A;
    resolve: (result: R) => void;
    reject: (err: unknown) => void;
  }
  let group: Waiting[] = [];
  const alone = (w: Waiting) => {
    try {
      w.resolve(tx(() => write(w.args)));
    } catch (err) {
      w.reject(err);
    }
  };
  /** The group in one transaction, each call in a savepoint of it; throws what fails the group. */
  const eachInSavepoint = (waiting: Waiting[]): Outcome[] =>
    tx(() =>
      waiting.map((w): Outcome => {
        try {
          return { ok: true, result: tx(() => write(w.args)) };
        } catch (error) {
          // Its savepoint is rolled back; the group goes on unless the failure is the database's
          // or took the whole transaction with it.
          if (isConditionOfTheDatabase(error) || !inTransaction()) throw error;
          return { ok: false, error };
        }
      }),
    );
  const flush = () => {
    if (!afterWriteTurn?.(writeGroup)) writeGroup();
  };
  const writeGroup = () => {
    const waiting = group;
    group = [];
    if (waiting.length === 1) {
      alone(waiting[0]!);
      return;
    }
    let outcomes: Outcome[];
    try {
      // Without savepoints first: they are not free (each makes SQLite copy the pages it changes
      // to a statement journal, a temporary file), and a failing call is rare.
      outcomes = tx(() => waiting.map((w): Outcome => ({ ok: true, result: write(w.args) })));
    } catch (first) {
      try {
        // A condition of the database (locked, closed) fails every call alike: no second pass.
        if (isConditionOfTheDatabase(first)) throw first;
        outcomes = eachInSavepoint(waiting);
      } catch (err) {
        if (isConditionOfTheDatabase(err)) {
          for (const w of waiting) w.reject(err);
          return;
        }
        for (const w of waiting) alone(w);
        return;
      }
    }
    for (const [i, w] of waiting.entries()) {
      const outcome = outcomes[i]!;
      if (outcome.ok) w.resolve(outcome.result);
      else w.reject(outcome.error);
    }
  };
  return (args) =>
    new Promise<R>((resolve, reject) => {
      group.push({ args, resolve, reject });
      if (group.length === 1) setImmediate(flush);
    });
}

/**
 * A lock held elsewhere or the store's own ENGINE_STOPPED once it is closed: nothing about the rows
 * a call wrote.
 */
function isConditionOfTheDatabase(err: unknown): boolean {
  return isLockedElsewhere(err) || (err as { code?: unknown } | null)?.code === 'ENGINE_STOPPED';
}
