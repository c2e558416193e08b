/**
 * The SQLite file's disk fills up while an engine ingests and delivers: ingest must answer a clear
 * STORAGE_FULL (HTTP 507, retryable) and store nothing for that call, never accept an event it did
 * not store; no process goes down; the database stays intact; once space is freed, everything
 * accepted is delivered. The disk is a 24 MiB tmpfs mounted for this test, most of it taken by a
 * ballast file that is deleted to "free space". Mounting needs root (CI and this machine kind run
 * as root); elsewhere the test skips saying why, and under CI=true it runs (and fails) instead.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, httpStatusForCode, isPipesError, type Logger, type PipesError } from '@openpipes/core';
import {
  metaLikeAnswer,
  purchaseEvent,
  settled,
  setupMetaExample,
  startTestServer,
  testSecretKey,
  waitFor,
} from '@openpipes/core/testing';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

const inCi = !['', '0', 'false', undefined].includes(process.env.CI);
const dir = mkdtempSync(join(tmpdir(), 'openpipes-full-'));
let mounted = false;
let whyNot = '';
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
  mounted = true;
} catch (err) {
  whyNot = String((err as { stderr?: Buffer }).stderr ?? err).trim();
}
const unmount = () => {
  if (!mounted) return;
  mounted = false;
  execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
};
process.once('exit', unmount);
afterAll(() => {
  unmount();
  rmSync(dir, { recursive: true, force: true });
});
if (!mounted && !inCi) {
  console.warn(
    `\n[@openpipes/store-sqlite] SKIPPING the disk-full test: cannot mount a small tmpfs (${whyNot}); it needs root.\n`,
  );
}

describe.runIf(mounted || inCi)('SQLite disk full', () => {
  it('refuses ingest with STORAGE_FULL while the disk is full, then delivers everything accepted', async () => {
    expect(mounted, `a tmpfs must be mountable under CI (${whyNot})`).toBe(true);
    const logs: Array<{ message: string; fields?: Record<string, unknown> }> = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn: (fields: Record<string, unknown>, message?: string) =>
        logs.push({ message: message ?? '', fields }),
      error: (fields: Record<string, unknown>, message?: string) =>
        logs.push({ message: message ?? '', fields }),
    };
    // The Meta stand-in holds its first request until the disk is full, so that the dispatcher
    // has an outcome to record while nothing can be written.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const meta = await startTestServer(async (request) => {
      if (meta.requests.length === 1) await held;
      return metaLikeAnswer(request);
    });
    const filename = join(dir, 'full.db');
    const pipes = createPipes({
      store: sqliteStore({ filename }),
      secretKey: testSecretKey,
      logger,
      sandbox: { workers: 1 },
      egressAllow: [meta.host],
      dispatcher: { pollIntervalMs: 50, leaseMs: 2000 },
    });
    try {
      const { pipe } = await setupMetaExample(pipes, meta, {
        retry: { initial_delay_ms: 50, multiplier: 1 },
      });
      await pipes.start();
      // Take all but ~4 MiB of the disk.
      const { bavail, bsize } = statfsSync(dir);
      const ballast = join(dir, 'ballast');
      writeFileSync(ballast, Buffer.alloc(Math.max(0, bavail * bsize - 4 * 1024 * 1024)));

      // Ingest 2 KiB events until the disk is full.
      const accepted = new Set<string>();
      const failures: unknown[] = [];
      let next = 0;
      const ingest = async () => {
        const ids = Array.from({ length: 50 }, () => `ord_full_${next++}`);
        try {
          const result = await pipes.ingest(
            'web',
            ids.map((id) => purchaseEvent(id, { padding: 'p'.repeat(2048) })),
          );
          expect(result.accepted).toBe(ids.length);
          for (const id of ids) accepted.add(id);
          return true;
        } catch (err) {
          failures.push(err);
          return false;
        }
      };
      expect(await ingest()).toBe(true);
      await waitFor(() => meta.requests.length === 1, 15_000, 'the first batch to reach the stand-in');
      for (let i = 0; i < 400 && failures.length === 0; i++) await ingest();
      expect(failures.length, 'the disk never filled up').toBe(1);
      expect(accepted.size).toBeGreaterThan(0);
      // It stays full: more calls fail the same way, none is half accepted.
      for (let i = 0; i < 5; i++) await ingest();
      expect(failures.length).toBeGreaterThanOrEqual(5);
      for (const err of failures) {
        expect(isPipesError(err)).toBe(true);
        const e = err as PipesError;
        expect({ code: e.code, retryable: e.retryable, status: httpStatusForCode(e.code) }).toEqual({
          code: 'STORAGE_FULL',
          retryable: true,
          status: 507,
        });
        expect(e.message).toMatch(/disk is full/);
      }
      // What was refused was not stored: exactly the accepted events have deliveries.
      const stored = new Set<string>();
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof pipes.deliveries.list>> = await pipes.deliveries.list(pipe.id, {
          limit: 1000,
          ...(cursor ? { cursor } : {}),
        });
        for (const d of page.data) stored.add(d.event_id);
        cursor = page.next_cursor;
      } while (cursor);
      expect(stored).toEqual(accepted);

      // The held batch is answered now; recording its outcome fails, and the engine says why.
      release();
      await waitFor(
        () => logs.find((l) => JSON.stringify(l.fields ?? {}).includes('disk is full')),
        15_000,
        'the dispatcher to log the full disk',
      );
      expect(pipes.status().running).toBe(true);

      // Free the space: ingest works again, and everything accepted is delivered.
      rmSync(ballast);
      await waitFor(ingest, 15_000, 'ingest to work again after space was freed');
      const deliveries = await settled(pipes, pipe.id, accepted.size, 60_000);
      expect(deliveries.filter((d) => d.status !== 'delivered')).toEqual([]);
      expect(new Set(deliveries.map((d) => d.event_id))).toEqual(accepted);
      const sent = new Set(
        meta.requests.flatMap((r) =>
          (r.json as { data: Array<{ event_id: string }> }).data.map((e) => e.event_id),
        ),
      );
      expect([...accepted].filter((id) => !sent.has(id))).toEqual([]);
    } finally {
      release();
      await pipes.stop({ graceMs: 2000 });
      await pipes.store.close();
      await meta.close();
    }
    // The file is intact.
    const check = new Database(filename, { readonly: true });
    try {
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      check.close();
    }
  }, 120_000);
});
