import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { createWriteTurn } from './write-turn.js';

/**
 * connection.ts and write-turn.ts bundled for a worker thread vitest does not run: better-sqlite3
 * (native) is loaded from its own file, and @openpipes/core gives connection.ts only PipesError.
 */
async function connectionModule(): Promise<string> {
  const betterSqlite = pathToFileURL(createRequire(import.meta.url).resolve('better-sqlite3')).href;
  const { outputFiles } = await build({
    entryPoints: [new URL('./connection.ts', import.meta.url).pathname],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    plugins: [
      {
        name: 'worker-imports',
        setup(build) {
          build.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: betterSqlite, external: true }));
          build.onResolve({ filter: /^@openpipes\/core/ }, (args) => ({
            path: args.path,
            namespace: 'core',
          }));
          build.onLoad({ filter: /.*/, namespace: 'core' }, () => ({
            contents: 'export class PipesError extends Error {}',
            loader: 'js',
          }));
        },
      },
    ],
  });
  return `data:text/javascript;base64,${Buffer.from(outputFiles[0]!.text).toString('base64')}`;
}

// Each thread waits for `go`, then writes its rows one transaction each, through the store's own
// connection. In every transaction it looks at the turn's state (its holder's number): a thread that went on
// without the turn (it waited out busy_timeout) counts as `without`.
const writerSource = `
const { parentPort, workerData, threadId } = require('node:worker_threads');
import(workerData.module).then(({ createConnection }) => {
  const { filename, turn, go, rows } = workerData;
  const connection = createConnection({ filename, writeTurn: turn });
  const insert = () => connection.prepare('INSERT INTO w (thread, n) VALUES (?, ?)');
  const state = new Int32Array(turn);
  const flag = new Int32Array(go);
  Atomics.add(flag, 1, 1);
  Atomics.notify(flag, 1);
  while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0);
  const failures = [];
  let without = 0;
  for (let n = 0; n < rows; n++) {
    try {
      connection.tx(() => {
        if (Atomics.load(state, 0) !== threadId + 1) without++;
        insert().run(threadId, n);
      });
    } catch (err) {
      failures.push(String(err && err.code ? err.code : err));
    }
  }
  connection.close();
  parentPort.postMessage({ failures, without });
});
`;

describe('a write turn shared by threads writing one SQLite file', () => {
  it('three threads x 400 transactions: every row lands, none fails, every transaction had the turn', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openpipes-turn-threads-'));
    const filename = join(dir, 'turn.db');
    const setup = new Database(filename);
    setup.pragma('journal_mode = WAL');
    setup.exec('CREATE TABLE w (thread INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (thread, n))');
    setup.close();

    const module = await connectionModule();
    const turn = createWriteTurn();
    const go = new SharedArrayBuffer(8);
    const flag = new Int32Array(go);
    const threads = 3;
    const rows = 400;
    const workers = Array.from(
      { length: threads },
      () => new Worker(writerSource, { eval: true, workerData: { module, filename, turn, go, rows } }),
    );
    try {
      const results = workers.map(
        (worker) =>
          new Promise<{ failures: string[]; without: number }>((resolve, reject) => {
            worker.once('message', resolve);
            worker.once('error', reject);
          }),
      );
      // All ready before any writes, so the transactions overlap.
      while (Atomics.load(flag, 1) < threads) Atomics.wait(flag, 1, Atomics.load(flag, 1), 50);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      const done = await Promise.all(results);
      expect(done.flatMap((r) => r.failures)).toEqual([]);
      expect(done.map((r) => r.without)).toEqual([0, 0, 0]);
      const check = new Database(filename, { readonly: true });
      const perThread = check
        .prepare('SELECT thread, count(*) AS rows FROM w GROUP BY thread')
        .all() as Array<{
        rows: number;
      }>;
      check.close();
      expect(perThread.map((r) => r.rows)).toEqual([rows, rows, rows]);
      // Free again once every thread is done.
      expect(Array.from(new Int32Array(turn))).toEqual(new Array(turn.byteLength / 4).fill(0));
    } finally {
      await Promise.all(workers.map((worker) => worker.terminate()));
    }
  });
});
