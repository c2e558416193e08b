import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWriteTurn, releaseWriteTurnOf, Took, writeTurnOf } from './write-turn.js';
import { heldWhileAWaiterEnds, turnWorker, untilWaiting } from './write-turn.test-support.js';

// Thread numbers are threadId + 1; these tests give two handles of one thread different numbers,
// so every case that does not block runs in one thread and cannot depend on scheduling.
const main = 1;
const other = 2;

describe('write turn, one handle per thread number', () => {
  it('is taken by one thread at a time, and free again once given back', () => {
    const turn = createWriteTurn();
    const a = writeTurnOf(turn, main);
    const b = writeTurnOf(turn, other);
    expect(a.take(0)).toBe(Took.handed);
    expect(b.take(0)).toBe(Took.timedOut);
    a.give();
    expect(b.take(0)).toBe(Took.handed);
    expect(a.take(0)).toBe(Took.timedOut);
    b.give();
    expect(a.take(0)).toBe(Took.handed);
  });

  it('a write put off while another thread holds the turn runs when it is given back, handed to it', async () => {
    const turn = createWriteTurn();
    const a = writeTurnOf(turn, main);
    const b = writeTurnOf(turn, other);
    // Free: nothing put off.
    expect(a.afterTurn(() => expect.unreachable(), 60_000)).toBe(false);
    expect(b.take(0)).toBe(Took.handed);
    const took = new Promise<Took>((resolve) => {
      expect(a.afterTurn(() => resolve(a.take(0)), 60_000)).toBe(true);
    });
    // Listed as waiting: the holder hands the turn over to it rather than freeing it, and cannot
    // take it back before it (its own handover, with a thread still waiting).
    b.give();
    expect(b.take(0)).toBe(Took.timedOut);
    expect(await took).toBe(Took.handed);
    a.give();
    // No longer listed once it ran: the next give frees the turn.
    expect(b.take(0)).toBe(Took.handed);
    b.give();
    expect(a.take(0)).toBe(Took.handed);
  });

  it('a thread that already has the turn does not wait for itself', () => {
    const turn = createWriteTurn();
    const a = writeTurnOf(turn, main);
    expect(a.take(0)).toBe(Took.handed);
    // Would wait out the whole minute if it looked only at the state.
    expect(a.take(60_000)).toBe(Took.heldHere);
  });

  it('a thread that ended holding the turn is freed by its owner, and only that thread', () => {
    const turn = createWriteTurn();
    const ended = writeTurnOf(turn, other);
    const survivor = writeTurnOf(turn, main);
    expect(ended.take(0)).toBe(Took.handed);
    // Another worker's threadId: not the holder. The main thread's (0) is no worker's.
    expect(releaseWriteTurnOf(turn, 5)).toBe(false);
    expect(() => releaseWriteTurnOf(turn, main - 1)).toThrow(TypeError);
    expect(survivor.take(0)).toBe(Took.timedOut);
    expect(releaseWriteTurnOf(turn, other - 1)).toBe(true);
    expect(survivor.take(0)).toBe(Took.freed);
    expect(releaseWriteTurnOf(turn, other - 1)).toBe(false);
  });

  it('a give by a thread its owner ended, which ran on, leaves the turn with the thread that took it since', () => {
    const turn = createWriteTurn();
    const ending = writeTurnOf(turn, other);
    const next = writeTurnOf(turn, main);
    const third = writeTurnOf(turn, 3);
    expect(ending.take(0)).toBe(Took.handed);
    // Its owner frees it as it terminates it; the thread runs on until the termination reaches it.
    releaseWriteTurnOf(turn, other - 1);
    expect(next.take(0)).toBe(Took.freed);
    ending.give();
    expect(third.take(0)).toBe(Took.timedOut);
    next.give();
    // A turn it takes meanwhile counts as free to the others: the same once one of them takes it.
    expect(ending.take(0)).toBe(Took.handed);
    expect(next.take(0)).toBe(Took.freed);
    ending.give();
    expect(third.take(0)).toBe(Took.timedOut);
    next.give();
  });
});

describe('write turn, a handover after a transaction that found the file locked', () => {
  it('is taken as late by a thread that waited for it, not by the thread that made it', () => {
    const turn = createWriteTurn();
    const giver = writeTurnOf(turn, main);
    const waiter = writeTurnOf(turn, other);
    // Listed as waiting, as it would be while blocked in take(), so that a give hands it over.
    const waiting = (thread: number) => Atomics.store(new Int32Array(turn), 2, thread);
    for (const [late, took] of [
      [true, Took.handedLate],
      [false, Took.handed],
    ] as const) {
      expect(giver.take(0)).toBe(Took.handed);
      waiting(other);
      giver.give(late);
      waiting(0);
      expect(waiter.take(0)).toBe(took);
      waiter.give();
    }
    // Taken back by its giver (the waiter gave up): the giver's own wait was for nobody.
    expect(giver.take(0)).toBe(Took.handed);
    waiting(other);
    giver.give(true);
    waiting(0);
    expect(giver.take(0)).toBe(Took.handed);
    giver.give();
  });
});

describe('write turn, its wait', () => {
  it('ends at its deadline even when the wall clock is set back while it waits', () => {
    const turn = createWriteTurn();
    // Held by a thread that does not give it back (it hangs, say).
    expect(writeTurnOf(turn, other).take(0)).toBe(Took.handed);
    const mine = writeTurnOf(turn, main);
    const setBack = Date.now() - 3_600_000;
    const clock = vi.spyOn(Date, 'now').mockReturnValue(setBack);
    // take(50) waits in slices of at most 20 ms: a few of them. Past 100 it is waiting out the hour.
    const wait = Atomics.wait;
    let waits = 0;
    const counted = vi
      .spyOn(Atomics, 'wait')
      .mockImplementation((...args: Parameters<typeof Atomics.wait>) => {
        if (++waits > 100) throw new Error('still waiting, long past its deadline');
        return wait(...args);
      });
    try {
      clock.mockReturnValueOnce(setBack + 3_600_000);
      expect(mine.take(50)).toBe(Took.timedOut);
    } finally {
      counted.mockRestore();
      clock.mockRestore();
    }
  });
});
describe('write turn across threads', () => {
  const workers: Worker[] = [];
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.terminate();
  });

  it('a waiting thread is handed the turn: the giver cannot take it back before it', async () => {
    const turn = createWriteTurn();
    const mine = writeTurnOf(turn);
    expect(mine.take(0)).toBe(Took.handed);
    const other = await turnWorker(turn);
    workers.push(other.worker);
    other.send('take');
    untilWaiting(turn);
    mine.give();
    // Handed over: however fast this thread asks again, the turn is the waiter's.
    expect(mine.take(0)).toBe(Took.timedOut);
    expect(await other.reply()).toBe(Took.handed);
    expect(mine.take(0)).toBe(Took.timedOut);
    expect(await other.ask('give')).toBe('given');
    expect(mine.take(0)).toBe(Took.handed);
    mine.give();
  });

  it('a worker terminated while it holds the turn leaves it to its owner to free', async () => {
    const turn = createWriteTurn();
    const mine = writeTurnOf(turn);
    const other = await turnWorker(turn);
    expect(await other.ask('take')).toBe(Took.handed);
    const id = other.worker.threadId;
    await other.worker.terminate();
    expect(mine.take(0)).toBe(Took.timedOut);
    expect(releaseWriteTurnOf(turn, id)).toBe(true);
    expect(mine.take(0)).toBe(Took.freed);
    mine.give();
  });

  it('its exit event reports threadId -1: that id is refused, not taken for a thread that frees a handed-over turn', async () => {
    const turn = createWriteTurn();
    const mine = writeTurnOf(turn);
    const other = await turnWorker(turn);
    expect(await other.ask('take')).toBe(Took.handed);
    const released = new Promise<unknown>((resolve) => {
      other.worker.once('exit', () => {
        try {
          resolve(releaseWriteTurnOf(turn, other.worker.threadId));
        } catch (err) {
          resolve(err);
        }
      });
    });
    await other.worker.terminate();
    const result = await released;
    expect(result).toBeInstanceOf(Error);
    expect(String(result)).toMatch(/threadId -1/);
    // Until its owner frees it with the id it read at spawn, the ended thread holds the turn.
    expect(mine.take(0)).toBe(Took.timedOut);
    // -1 is thread number 0: taken for the holder of a turn handed over (whose holder word was 0
    // when holder and state were two words), it freed it for the giver to take back.
    const words = new Int32Array(turn);
    words[2] = 77;
    const giver = writeTurnOf(turn, 76);
    expect(releaseWriteTurnOf(turn, other.id)).toBe(true);
    expect(giver.take(0)).toBe(Took.freed);
    giver.give();
    expect(() => releaseWriteTurnOf(turn, -1)).toThrow(/threadId -1/);
    expect(giver.take(0)).toBe(Took.timedOut);
    words[2] = 0;
  });

  it('a worker terminated right after it won the turn leaves it to its owner to free', async () => {
    const turn = createWriteTurn();
    const mine = writeTurnOf(turn);
    const other = await turnWorker(turn);
    // 'stopped' (at a write after its compareExchange) or true (it made none: nothing to stop at).
    expect(['stopped', Took.handed]).toContain(await other.ask('take, stopped after'));
    expect(mine.take(0)).toBe(Took.timedOut);
    await other.worker.terminate();
    // Had it won the state word without yet naming itself in another, its owner could not tell.
    expect(releaseWriteTurnOf(turn, other.id)).toBe(true);
    expect(mine.take(0)).toBe(Took.freed);
    mine.give();
  });

  it('a worker terminated in the middle of giving the turn back leaves it to its owner to free', async () => {
    const turn = createWriteTurn();
    const mine = writeTurnOf(turn);
    const other = await turnWorker(turn);
    expect(await other.ask('take')).toBe(Took.handed);
    expect(await other.ask('give, stopped in it')).toBe('stopped');
    await other.worker.terminate();
    // Had it cleared its holder word first, its owner could not tell it held the turn: taken for good.
    expect(releaseWriteTurnOf(turn, other.id)).toBe(true);
    expect(mine.take(0)).toBe(Took.freed);
    mine.give();
  });

  it('a worker terminated while it waits is no longer handed the turn once its owner clears it', async () => {
    const { turn, mine, id } = await heldWhileAWaiterEnds();
    // The ended thread still looks like a waiter: the turn would be handed to it.
    mine.give();
    expect(mine.take(0)).toBe(Took.timedOut);
    // Its owner's exit handler: nothing held, its place among the waiters cleared.
    expect(releaseWriteTurnOf(turn, id)).toBe(false);
    expect(mine.take(0)).toBe(Took.handed);
    mine.give();
    expect(mine.take(0)).toBe(Took.handed);
    mine.give();
  });

  it('a worker that exits while it holds the turn frees it itself: the thread waiting for it takes it, not at its deadline', async () => {
    const turn = createWriteTurn();
    const mine = writeTurnOf(turn);
    const other = await turnWorker(turn);
    const exited = new Promise((resolve) => other.worker.once('exit', resolve));
    other.send('take, exit once another waits');
    const words = new Int32Array(turn);
    while (Atomics.load(words, 0) !== other.id + 1) Atomics.wait(words, 0, Atomics.load(words, 0), 5);
    // True: the turn was freed while this thread waited. False would be the deadline passed (this
    // thread blocked its owner's exit handler until then: in serve, busy_timeout's 5 s of ingest).
    expect(mine.take(10_000)).toBe(Took.freed);
    mine.give();
    expect(await exited).toBe(1);
  }, 30_000);

  it('a worker its owner is ending (released before terminate()) holds no turn from the others, even one it takes after', async () => {
    const turn = createWriteTurn();
    const mine = writeTurnOf(turn);
    const other = await turnWorker(turn);
    workers.push(other.worker);
    // The owner releases it as it calls terminate(): the thread runs on until the termination
    // reaches it, and may win the turn meanwhile.
    expect(releaseWriteTurnOf(turn, other.id)).toBe(false);
    expect(await other.ask('take')).toBe(Took.handed);
    expect(mine.take(0)).toBe(Took.freed);
    // Nor does its give, once another thread has taken that turn.
    expect(await other.ask('give')).toBe('given');
    expect(writeTurnOf(turn, 99).take(0)).toBe(Took.timedOut);
    mine.give();
  });

  it('a worker its owner released while it held the turn, and which ran on, gives back nothing another thread took since', async () => {
    const turn = createWriteTurn();
    const mine = writeTurnOf(turn);
    const other = await turnWorker(turn);
    workers.push(other.worker);
    expect(await other.ask('take')).toBe(Took.handed);
    expect(releaseWriteTurnOf(turn, other.id)).toBe(true);
    expect(mine.take(0)).toBe(Took.freed);
    expect(await other.ask('give')).toBe('given');
    // Had it stored its give unconditionally, the turn would be free: two holders at once.
    expect(writeTurnOf(turn, 99).take(0)).toBe(Took.timedOut);
    mine.give();
    expect(writeTurnOf(turn, 99).take(0)).toBe(Took.handed);
  });

  it('a handover to a thread that ended waiting, before its owner clears it, goes back to the giver after a slice', async () => {
    const { mine } = await heldWhileAWaiterEnds();
    // Its owner (this thread) has not run its exit handler yet: in serve the main thread is blocked
    // in take() and cannot, so it would wait out its whole busy timeout for a thread that is gone.
    mine.give();
    expect(mine.take(3000)).toBe(Took.freed);
    mine.give();
  });
});
