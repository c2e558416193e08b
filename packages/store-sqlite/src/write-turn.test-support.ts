/**
 * The kit of write-turn.test.ts and write-turn-connection.test.ts: a worker thread with its own
 * handle on a write turn, driven by messages, and the ways to wait for a waiter.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { transformSync } from 'esbuild';
import { expect } from 'vitest';
import { createWriteTurn, Took, writeTurnOf } from './write-turn.js';

const workerSource = `
const { parentPort, workerData, threadId } = require('node:worker_threads');
import(workerData.module).then(({ writeTurnOf }) => {
  const turn = writeTurnOf(workerData.turn);
  const untilAnotherWaits = () => {
    const words = new Int32Array(workerData.turn);
    const waiting = () => words.subarray(2, 16).some((slot) => slot !== 0 && slot !== threadId + 1);
    while (!waiting()) Atomics.wait(words, 0, Atomics.load(words, 0), 5);
  };
  parentPort.on('message', (message) => {
    if (message === 'take') parentPort.postMessage(turn.take(60_000));
    // Takes, and once another thread waits for it, exits without giving it back (process.exit
    // inside a transaction): its owner's exit handler cannot run while that thread waits.
    if (message === 'take, exit once another waits') {
      turn.take(60_000);
      untilAnotherWaits();
      process.exit(1);
    }
    // Takes, and gives it back 30 ms after another thread waits for it: a long transaction; 'late',
    // one that could not begin, the file locked by another process past its busy_timeout.
    if (message === 'take, give 30 ms after another waits' || message === 'take, give late 30 ms after another waits') {
      parentPort.postMessage(turn.take(60_000));
      untilAnotherWaits();
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30);
      turn.give(message.includes('late'));
      parentPort.postMessage('given');
    }
    if (message === 'give') { turn.give(); parentPort.postMessage('given'); }
    // Takes, and stops for good at its first write to the turn once it has won it (if it makes one).
    if (message === 'take, stopped after') {
      const store = Atomics.store;
      Atomics.store = (array, index, value) => {
        if (array.buffer === workerData.turn) {
          parentPort.postMessage('stopped');
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
        }
        return store(array, index, value);
      };
      parentPort.postMessage(turn.take(60_000));
    }
    // Gives, and stops for good at the first look at the waiters' slots: a thread terminated there.
    if (message === 'give, stopped in it') {
      const load = Atomics.load;
      Atomics.load = (array, index) => {
        if (array.buffer === workerData.turn && index >= 2) {
          parentPort.postMessage('stopped');
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
        }
        return load(array, index);
      };
      turn.give();
    }
  });
  parentPort.postMessage('ready');
});
`;

/** A worker thread with its own handle on `turn`, driven by messages. */
export async function turnWorker(turn: SharedArrayBuffer) {
  // The module under test, compiled as vitest compiles it (esbuild), for a thread vitest does not run.
  const source = readFileSync(new URL('./write-turn.ts', import.meta.url), 'utf8');
  const { code } = transformSync(source, { loader: 'ts', format: 'esm' });
  const module = `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`;
  const worker = new Worker(workerSource, { eval: true, workerData: { turn, module } });
  const replies: unknown[] = [];
  const waiting: Array<(value: unknown) => void> = [];
  worker.on('message', (m) => {
    const next = waiting.shift();
    if (next) next(m);
    else replies.push(m);
  });
  const reply = () =>
    replies.length > 0 ? Promise.resolve(replies.shift()) : new Promise((resolve) => waiting.push(resolve));
  expect(await reply()).toBe('ready');
  return {
    worker,
    /** Read at spawn: a Worker reports -1 once it has exited. */
    id: worker.threadId,
    reply,
    send: (message: string) => worker.postMessage(message),
    ask: (message: string) => {
      worker.postMessage(message);
      return reply();
    },
  };
}

/** Blocks until some thread waits for the turn (it blocks in Atomics.wait: it cannot answer). */
export function untilWaiting(turn: SharedArrayBuffer) {
  const words = new Int32Array(turn);
  const waiting = () => words.subarray(2).some((slot) => slot !== 0);
  while (!waiting()) Atomics.wait(words, 0, Atomics.load(words, 0), 5);
}

/**
 * This thread holds the turn while a worker waits for it; then the worker is terminated (its owner,
 * this thread, has not cleared its place yet). Returns the worker's threadId, read while it ran.
 */
export async function heldWhileAWaiterEnds() {
  const turn = createWriteTurn();
  const mine = writeTurnOf(turn);
  expect(mine.take(0)).toBe(Took.handed);
  const other = await turnWorker(turn);
  other.send('take');
  untilWaiting(turn);
  const id = other.worker.threadId;
  await other.worker.terminate();
  return { turn, mine, id };
}
