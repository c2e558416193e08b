import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startCheckpointer } from './checkpointer.js';
import { type Connection, createConnection } from './connection.js';

const dirs: string[] = [];
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-checkpoint-'));
  dirs.push(dir);
  return join(dir, 'store.db');
}

/** A connection to a new file with a table `t` of rows ~1 KiB each (four to a page). */
function connectionTo(filename: string, options: Parameters<typeof createConnection>[0] = {}): Connection {
  const connection = createConnection({ filename, ...options });
  open.push(connection);
  connection.tx(() => connection.prepare('CREATE TABLE t (n INTEGER PRIMARY KEY, body TEXT)').run());
  return connection;
}

/** Writes `pages` pages' worth of rows, `perTransaction` rows a transaction. */
function write(connection: Connection, pages: number, perTransaction = 8) {
  const insert = connection.prepare('INSERT INTO t (body) VALUES (?)');
  for (let done = 0; done < pages * 4; done += perTransaction)
    connection.tx(() => {
      for (let i = 0; i < perTransaction; i++) insert.run('x'.repeat(1000));
    });
}

describe('background checkpoints (checkpointer.ts)', () => {
  it("copies the log into the file while the writers' own threshold is far off", async () => {
    const filename = tempFile();
    const connection = connectionTo(filename, { checkpoints: 'background' });
    expect(connection.db().pragma('wal_autocheckpoint', { simple: true })).toBe(8192);
    const before = statSync(filename).size;
    // ~300 pages: under SQLite's own 1,000 as well, so only the thread can have copied them.
    write(connection, 300);
    await vi.waitFor(() => expect(statSync(filename).size).toBeGreaterThan(before + 250 * 4096), {
      timeout: 10_000,
    });
  });

  it("stays inline with a handle of the host's: no thread can share it, so no higher threshold", () => {
    const database = new Database(tempFile());
    const connection = createConnection({ database: database as never, checkpoints: 'background' });
    open.push(connection);
    expect(connection.db().pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    const elsewhere = createConnection({ filename: tempFile(), checkpoints: 'background-elsewhere' });
    open.push(elsewhere);
    expect(elsewhere.db().pragma('wal_autocheckpoint', { simple: true })).toBe(8192);
  });

  it('keeps the log bounded: the writers start it again past their threshold', () => {
    const filename = tempFile();
    const connection = connectionTo(filename, { checkpoints: 'background', backgroundWalLimitPages: 64 });
    write(connection, 64 * 40);
    // Without the writers' checkpoint the log holds every page written, 2,560 of them. With it, a
    // little past 64: the writer's checkpoint is busy while the thread's pass runs, so how far
    // past depends on the machine's load; a quarter of the pages is far off either.
    expect(statSync(`${filename}-wal`).size).toBeLessThan((64 * 40 * 4096) / 4);
    expect(connection.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 64 * 40 * 4 });
  });

  it("lets a checkpoint of the caller's own find the log free while it holds off", async () => {
    const filename = tempFile();
    const connection = connectionTo(filename);
    // Back to back: without the pause one of the TRUNCATEs below finds its pass running.
    const checkpointer = startCheckpointer(filename, 'NORMAL', { intervalMs: 0 });
    if (!checkpointer) throw new Error('checkpoint-worker.js is not built');
    open.push({ close: () => checkpointer.stop() });
    const busy: number[] = [];
    for (let i = 0; i < 200; i++) {
      write(connection, 2, 4);
      const [result] = checkpointer.paused(() =>
        connection.db().pragma('wal_checkpoint(TRUNCATE)'),
      ) as Array<{ busy: number }>;
      busy.push(result?.busy ?? -1);
    }
    expect(busy.filter((b) => b !== 0)).toEqual([]);
  });

  it('stops with the connection, and says when the thread could not run', async () => {
    const filename = tempFile();
    const connection = connectionTo(filename, { checkpoints: 'background' });
    write(connection, 4);
    await connection.close();
    // Closed by its thread as well: nothing holds the file (an exclusive lock is had at once).
    const alone = new Database(filename, { timeout: 0 });
    expect(() => alone.pragma('locking_mode = EXCLUSIVE')).not.toThrow();
    expect(() => alone.exec('BEGIN EXCLUSIVE; COMMIT')).not.toThrow();
    alone.close();

    const failures: unknown[] = [];
    const missing = startCheckpointer(join(filename, '..', 'missing.db'), 'NORMAL', {
      onFailure: (error) => failures.push(error),
    });
    await missing?.stop();
    expect(failures).toHaveLength(1);
  });

  it('lets a program that awaits close() last go on after it (the thread is waited for, not left unsettled)', () => {
    // A program whose store is all that is left: with the thread unreferenced while it stops, the
    // event loop emptied before close() settled, and Node ended it there (exit code 13,
    // "unsettled top-level await"), the lines after close() never run.
    const program = `
      import { sqliteStore } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const store = sqliteStore({ filename: ${JSON.stringify(tempFile())}, checkpoints: 'background' });
      await store.migrate();
      await store.close();
      console.log('after close');`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8' });
    expect(out.trim()).toBe('after close');
  });
});
