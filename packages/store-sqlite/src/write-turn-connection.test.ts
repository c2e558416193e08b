/**
 * A connection with a write turn: it takes the turn for its outermost transactions, and takes what
 * it waited for a holder that ended or hangs off SQLite's own wait (busy_timeout), not what it
 * waited for a transaction of another thread.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { type Connection, createConnection } from './connection.js';
import { createWriteTurn, Took, writeTurnOf } from './write-turn.js';
import { heldWhileAWaiterEnds, turnWorker } from './write-turn.test-support.js';

describe('a connection with a write turn', () => {
  it('takes the turn for its outermost transaction only, and gives it back when the body throws', () => {
    const turn = createWriteTurn();
    const { connection } = connectionOn(turn);
    const elsewhere = writeTurnOf(turn, 99);
    connection.db().exec('CREATE TABLE t (n INTEGER)');
    connection.tx(() => {
      expect(elsewhere.take(0)).toBe(Took.timedOut);
      connection.tx(() => connection.prepare('INSERT INTO t VALUES (1)').run());
      expect(elsewhere.take(0)).toBe(Took.timedOut);
    });
    expect(elsewhere.take(0)).toBe(Took.handed);
    elsewhere.give();
    expect(() =>
      connection.tx(() => {
        connection.prepare('INSERT INTO t VALUES (2)').run();
        throw new Error('the body failed');
      }),
    ).toThrow('the body failed');
    expect(elsewhere.take(0)).toBe(Took.handed);
    elsewhere.give();
    expect(connection.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 });
    connection.close();
  });

  it('gives the turn back when even shortening busy_timeout throws (its database closed under it)', async () => {
    const { turn, mine } = await heldWhileAWaiterEnds();
    const { connection, database } = connectionOn(turn);
    connection.tx(() => {});
    // The host closes its own database before the store: every write of this connection fails.
    database.close();
    // Handed over to a waiter that ended: this thread takes it back after a slice, so it waited
    // and shortens busy_timeout, which throws on the closed database.
    mine.give();
    expect(() => connection.tx(() => {})).toThrow('not open');
    // Not kept: another thread's writes would each wait their whole busy_timeout for it.
    expect(writeTurnOf(turn, 99).take(0)).toBe(Took.handed);
  });

  it("waits no longer than busy_timeout in all: what it waited for the turn comes off SQLite's wait", () => {
    const turn = createWriteTurn();
    const { connection } = connectionOn(turn, 100);
    connection.db().exec('CREATE TABLE t (n INTEGER)');
    // Had the turn at once: SQLite's whole wait is left.
    connection.tx(() => expect(busyTimeout(connection)).toBe(100));
    // Held by a thread that does not give it back: this one waits its 100 ms for the turn, and
    // then may not wait in SQLite as well.
    const hung = writeTurnOf(turn, 99);
    expect(hung.take(0)).toBe(Took.handed);
    connection.tx(() => {
      expect(busyTimeout(connection)).toBe(0);
      connection.prepare('INSERT INTO t VALUES (1)').run();
    });
    expect(busyTimeout(connection)).toBe(100);
    hung.give();
    connection.close();
  });

  it("leaves busy_timeout alone after a handover, however long the other thread's transaction took", async () => {
    const turn = createWriteTurn();
    const { connection, database } = connectionOn(turn);
    const other = await turnWorker(turn);
    expect(await other.ask('take, give 30 ms after another waits')).toBe(Took.handed);
    const pragma = vi.spyOn(database, 'pragma');
    // Waits 30 ms or more for the turn: a transaction of the other thread, not a hung holder.
    connection.tx(() => expect(busyTimeout(connection)).toBe(5000));
    expect(await other.reply()).toBe('given');
    expect(pragma.mock.calls.filter(([source]) => /busy_timeout\s*=/.test(source))).toEqual([]);
    await other.worker.terminate();
    connection.close();
  });

  it('hands the turn over as late when its transaction could not begin, the file locked past busy_timeout', () => {
    const turn = createWriteTurn();
    const { connection, filename } = connectionOn(turn, 10);
    const elsewhere = new Database(filename);
    elsewhere.exec('BEGIN IMMEDIATE');
    // Thread 77 waits for the turn meanwhile (listed as a thread blocked in take() would be).
    const words = new Int32Array(turn);
    Atomics.store(words, 2, 77);
    expect(() => connection.tx(() => {})).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
    Atomics.store(words, 2, 0);
    expect(writeTurnOf(turn, 77).take(0)).toBe(Took.handedLate);
    elsewhere.exec('ROLLBACK');
    elsewhere.close();
    connection.close();
  });

  it('shortens busy_timeout by its wait for a turn handed over late: that wait was for the same lock', async () => {
    const turn = createWriteTurn();
    const { connection } = connectionOn(turn);
    const other = await turnWorker(turn);
    expect(await other.ask('take, give late 30 ms after another waits')).toBe(Took.handed);
    connection.tx(() => expect(busyTimeout(connection)).toBeLessThan(5000));
    expect(await other.reply()).toBe('given');
    expect(busyTimeout(connection)).toBe(5000);
    await other.worker.terminate();
    connection.close();
  });

  it('shortens busy_timeout by its wait for a holder that ended', async () => {
    const { turn, mine } = await heldWhileAWaiterEnds();
    const { connection } = connectionOn(turn);
    // Handed over to a waiter that ended: this thread takes it back only after a slice.
    mine.give();
    connection.tx(() => expect(busyTimeout(connection)).toBeLessThan(5000));
    expect(busyTimeout(connection)).toBe(5000);
    connection.close();
  });
});

/** A connection with the write turn `turn` on a fresh file, its database and the file's name. */
function connectionOn(turn: SharedArrayBuffer, busyTimeoutMs?: number) {
  const filename = join(mkdtempSync(join(tmpdir(), 'openpipes-turn-')), 'turn.db');
  const database = new Database(filename);
  const connection = createConnection({ database: database as never, writeTurn: turn, busyTimeoutMs });
  connection.db();
  return { connection, database, filename };
}

function busyTimeout(connection: Connection) {
  return connection.db().pragma('busy_timeout', { simple: true });
}
