/**
 * The checkpoint thread (checkpointer.ts): copies the write-ahead log into the database file with
 * PASSIVE checkpoints, which never wait for and never block a writer, on a connection of its own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { type CheckpointWorkerData, controlWord } from './checkpointer.js';

const data = workerData as CheckpointWorkerData;
const control = new Int32Array(data.control);
const db = new Database(data.filename, { fileMustExist: true });
// PASSIVE takes no lock it would wait for; the setting only bounds what opening the schema waits.
db.pragma('busy_timeout = 0');
// A checkpoint syncs the log and the file as the store's own setting says (FULL: power loss too).
db.pragma(`synchronous = ${data.synchronous}`);

let timer: NodeJS.Timeout | null = null;

const pass = () => {
  // Marked running before the pause is read, and the host marks its pause before it reads this:
  // one of the two always sees the other (checkpointer.ts, `paused`).
  Atomics.store(control, controlWord.running, 1);
  try {
    if (Atomics.load(control, controlWord.paused) === 0) db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or locked for a moment (another process's checkpoint, a VACUUM): the next pass.
  } finally {
    Atomics.store(control, controlWord.running, 0);
    Atomics.notify(control, controlWord.running);
  }
  timer = setTimeout(pass, data.intervalMs);
};

parentPort?.on('message', (message) => {
  if (message !== 'stop') return;
  if (timer) clearTimeout(timer);
  db.close();
  parentPort?.close();
});
timer = setTimeout(pass, data.intervalMs);
