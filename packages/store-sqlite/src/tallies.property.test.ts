/**
 * Migration 14 replaced five per-row triggers with counts kept by the store's statements
 * (tallies.ts). Differential check: the old triggers, re-created on shadow tables of the same file
 * (`ref_rollup`, `ref_totals`), count every row written in the same transaction as the store's own
 * tallies, whatever path wrote it; after each step of a seeded random sequence of store calls (two
 * store instances on one file, ingest in concurrent groups, claims, lease expiry and reclaims,
 * completions in every status, stale owners, releases, replays, erasures, pruning, and a statement
 * that throws at a random point of a call) the real tables must equal the shadow ones, and the
 * totals must equal a recount of `deliveries`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClaimedDelivery, newId, type Store } from '@openpipes/core';
import { bareOutcome, erasureAudit } from '@openpipes/core/testing';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type SqliteDatabase, sqliteStore } from './index.js';
import { migrations } from './migrations.js';
import { compare, finals, shadowSql } from './tallies-oracle.test-support.js';

/** Seeded PRNG (mulberry32). */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const some = <T>(xs: readonly T[]): T[] => xs.filter(() => next() < 0.5);
  return { next, int, pick, some };
}

/** A better-sqlite3 database whose statements throw once, at the `fault.at`-th run after arming. */
function faulty(filename: string, fault: { at: number | null }): SqliteDatabase {
  const db = new Database(filename);
  const prepare = db.prepare.bind(db);
  const hit = (text: string) => {
    if (fault.at === null || text.startsWith('PRAGMA')) return;
    fault.at--;
    if (fault.at <= 0) {
      fault.at = null;
      throw new Error('injected fault');
    }
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare')
        return (text: string) => {
          const s = prepare(text);
          const wrapped = {
            run: (...p: unknown[]) => {
              hit(text);
              return s.run(...p);
            },
            all: (...p: unknown[]) => {
              hit(text);
              return s.all(...p);
            },
            get: (...p: unknown[]) => {
              hit(text);
              return s.get(...p);
            },
            raw: (toggle?: boolean) => {
              s.raw(toggle);
              return wrapped;
            },
          };
          return wrapped;
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as unknown as SqliteDatabase;
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** The old triggers of migrations 4 and 12, as those migrations' text writes them. */
const oldTriggers = migrations
  .filter((m) => m.version === 4 || m.version === 12)
  .flatMap((m) => m.sql.match(/CREATE TRIGGER[\s\S]*?END;/g) ?? [])
  .join('\n');

/** A file as migration 13 left it (the old triggers on), with some history written through them. */
async function fileAtMigration13(filename: string) {
  const store = sqliteStore({ filename });
  await store.migrate();
  await store.close();
  const db = new Database(filename);
  db.exec(`${oldTriggers}\nDELETE FROM openpipes_migrations WHERE version = 14;`);
  const pipe = { pipe_id: 'pip_old', destination_id: 'dst_old' };
  const statuses = ['pending', 'delivered', 'failed', 'retrying', 'dead', 'filtered', 'sending'];
  const insert = db.prepare(
    `INSERT INTO events (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at)
     VALUES (?, 'src_old', ?, 1, 'purchase', ?, '{}', ?)`,
  );
  const delivery = db.prepare(
    `INSERT INTO deliveries (id, event_ref, source_id, pipe_id, destination_id, event_id, event_type, status,
       attempt_count, test_mode, due_at, created_at, updated_at, detail)
     VALUES (?, ?, 'src_old', ?, ?, ?, 'purchase', 'pending', 0, 0, ?, ?, ?, '{}')`,
  );
  const move = db.prepare(
    'UPDATE deliveries SET status = ?, due_at = ?, updated_at = ?, lease_owner = ? WHERE id = ?',
  );
  const t = Date.parse('2026-05-04T09:00:00.000Z');
  statuses.forEach((status, i) => {
    const at = new Date(t + i * 61_000).toISOString();
    const eventId = newId('event', t + i * 61_000);
    const deliveryId = newId('delivery', t + i * 61_000);
    insert.run(eventId, `old_${i}`, at, at);
    delivery.run(deliveryId, eventId, pipe.pipe_id, pipe.destination_id, `old_${i}`, at, at, at);
    const live = ['pending', 'retrying', 'sending'].includes(status);
    const later = new Date(t + i * 61_000 + 30_000).toISOString();
    move.run(status, live ? later : null, later, status === 'sending' ? 'w_old' : null, deliveryId);
  });
  db.close();
}

type Pipe = { pipe_id: string; destination_id: string };

async function run(seed: number, steps: number) {
  dir = mkdtempSync(join(tmpdir(), 'openpipes-tallies-'));
  const filename = join(dir, 'tallies.db');
  await fileAtMigration13(filename);
  const fault: { at: number | null } = { at: null };
  const a = sqliteStore({ database: () => faulty(filename, fault) });
  await a.migrate(); // 13 -> 14: drops the triggers
  const b = sqliteStore({ filename });
  const check = new Database(filename);
  const remaining = check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger'").get() as {
    n: number;
  };
  expect(remaining.n).toBe(0);
  check.exec(shadowSql);
  compare(check, `seed ${seed} after the upgrade`);

  const r = random(seed);
  const d1 = 'dst_1';
  const d2 = 'dst_2';
  const pipes: Pipe[] = [
    { pipe_id: 'pip_1', destination_id: d1 },
    { pipe_id: 'pip_2', destination_id: d1 },
    { pipe_id: 'pip_3', destination_id: d2 },
    { pipe_id: 'pip_old', destination_id: 'dst_old' },
  ];
  const destinations = [d1, d2, 'dst_old'];
  let clock = Date.parse('2026-05-04T10:00:00.000Z');
  const now = () => new Date(clock).toISOString();
  const held = new Map<string, ClaimedDelivery[]>([
    ['w1', []],
    ['w2', []],
  ]);
  const seen: string[] = [];
  const statuses = ['delivered', 'filtered', 'failed', 'retrying', 'dead'] as const;
  const allStatuses = ['pending', 'sending', ...statuses] as const;
  let audits = 0;
  const tally = new Map<string, number>();

  const append = (store: Store) => {
    const chosen = r.some(pipes.slice(0, 3));
    const group = chosen.length > 0 ? chosen : [pipes[0] as Pipe];
    const n = 1 + r.int(4);
    const events = Array.from({ length: n }, () => {
      const ms = clock + r.int(1000);
      return {
        id: newId('event', ms),
        event_id: `e_${r.int(40)}`,
        sender_event_id: r.next() < 0.7,
        event_type: 'purchase',
        event_time: now(),
        event_payload: { value: r.int(100) },
      };
    });
    const args = {
      sourceId: 'src_1',
      events,
      pipes: group,
      deliveryIds: events.flatMap(() => group.map(() => newId('delivery', clock))),
      dedupSince: r.next() < 0.6 ? new Date(clock - 3_600_000).toISOString() : null,
      now: now(),
    };
    return store.appendEvents(args).then(async (results) => {
      const index = results
        .filter((x) => !x.duplicate)
        .map((x) => ({ kind: 'email' as const, key: `person_${r.int(5)}`, event_ref: x.id }));
      for (const x of results) if (!x.duplicate) seen.push(x.id);
      await store.indexEventIdentifiers({ entries: index });
    });
  };

  const ops: Array<[string, (store: Store, owner: string) => Promise<unknown>]> = [
    ['append', (store) => append(store)],
    ['append group', (store) => Promise.all([append(store), append(store), append(store)])],
    [
      'claim',
      async (store, owner) => {
        const destinationId = r.pick(destinations);
        const claimed = await store.claimDeliveries({
          destinationId,
          pipeIds: pipes.filter((p) => p.destination_id === destinationId).map((p) => p.pipe_id),
          owner,
          limit: 1 + r.int(8),
          leaseMs: 1000 + r.int(90_000),
          now: now(),
        });
        for (const [w, list] of held)
          held.set(
            w,
            list.filter((d) => !claimed.some((c) => c.id === d.id)),
          );
        held.get(owner)?.push(...claimed);
      },
    ],
    [
      'complete',
      async (store, owner) => {
        // Sometimes another owner's claims (the fence loses them), sometimes one twice.
        const mine =
          r.next() < 0.85 ? (held.get(owner) ?? []) : (held.get(owner === 'w1' ? 'w2' : 'w1') ?? []);
        const chosen = r.some(mine);
        if (chosen.length > 0 && r.next() < 0.2) chosen.push(chosen[0] as ClaimedDelivery);
        const at = now();
        const outcomes = chosen.map((d) => {
          const status = r.pick(statuses);
          // A retry time is drawn only for `retrying`: the seeded sequence of draws depends on it.
          const retryAt = status === 'retrying' ? new Date(clock + r.int(120_000)).toISOString() : null;
          return bareOutcome(d.id, status, at, retryAt);
        });
        await store.completeDeliveries({ owner, outcomes, now: at });
        held.set(
          owner,
          (held.get(owner) ?? []).filter((d) => !chosen.includes(d)),
        );
      },
    ],
    [
      'release',
      (store, owner) =>
        store.releaseDeliveries({ owner, ids: r.some(held.get(owner) ?? []).map((d) => d.id), now: now() }),
    ],
    [
      'extend',
      (store, owner) =>
        store.extendLeases({
          owner,
          ids: r.some(held.get(owner) ?? []).map((d) => d.id),
          until: new Date(clock + 60_000).toISOString(),
        }),
    ],
    ['expedite', (store) => store.expediteRetries({ destinationId: r.pick(destinations), now: now() })],
    [
      'replay',
      async (store) => {
        const pipe = r.pick(pipes);
        const ids =
          r.next() < 0.3
            ? check.prepare('SELECT id FROM deliveries WHERE pipe_id = ?').all(pipe.pipe_id)
            : null;
        return store.requeueDeliveries({
          pipeId: pipe.pipe_id,
          ...(ids ? { ids: r.some(ids as Array<{ id: string }>).map((x) => x.id) } : {}),
          ...(r.next() < 0.5 ? { statuses: r.some(allStatuses) } : {}),
          now: now(),
          limit: 1 + r.int(10),
        });
      },
    ],
    [
      'erase',
      (store) => {
        const key = `person_${r.int(5)}`;
        return store.eraseProfiles({
          identifiers: [{ kind: 'email', key }],
          given: [key],
          eventIdDigest: (id) => `erased:${id.length}`,
          now: now(),
          audit: erasureAudit(`aud_tally_${seed}_${audits++}`, now()),
        });
      },
    ],
    [
      'prune',
      (store) =>
        store.prune({ before: new Date(clock - r.int(1_800_000)).toISOString(), limit: 1 + r.int(20) }),
    ],
    [
      'prune counts',
      (store) =>
        store.pruneDeliveryCounts({
          before: new Date(clock - r.int(3_600_000)).toISOString(),
          limit: 1 + r.int(10),
        }),
    ],
  ];
  const weights = [6, 2, 6, 6, 2, 1, 1, 3, 1, 1, 1];

  let faults = 0;
  for (let step = 0; step < steps; step++) {
    clock += r.int(40_000);
    let k = r.int(weights.reduce((x, y) => x + y, 0));
    let i = 0;
    while (k >= (weights[i] as number)) k -= weights[i++] as number;
    const [name, op] = ops[i] as (typeof ops)[number];
    const onA = r.next() < 0.6;
    if (onA && r.next() < 0.15) fault.at = 1 + r.int(12);
    try {
      await op(onA ? a : b, r.pick(['w1', 'w2']));
    } catch (err) {
      if ((err as Error).message !== 'injected fault') throw err;
      faults++;
    }
    fault.at = null;
    tally.set(name, (tally.get(name) ?? 0) + 1);
    compare(check, `seed ${seed} step ${step} (${name})`);
  }
  const reached = check.prepare('SELECT DISTINCT status FROM ref_rollup').all() as Array<{ status: string }>;
  await a.close();
  await b.close();
  check.close();
  return { reached, faults, ops: Object.fromEntries(tally), delivered: seen.length };
}

describe('delivery tallies (migration 14) against the triggers they replaced', () => {
  it('the old triggers are found in migrations 4 and 12', () => {
    expect(oldTriggers.match(/CREATE TRIGGER/g)).toHaveLength(5);
  });

  it('a claim of a due row in a final status (written by hand, then recounted) takes it out of its total', async () => {
    dir = mkdtempSync(join(tmpdir(), 'openpipes-tallies-'));
    const filename = join(dir, 'tallies.db');
    await fileAtMigration13(filename);
    const store = sqliteStore({ filename });
    await store.migrate();
    const check = new Database(filename);
    check.exec(shadowSql);
    // By hand: a delivered row made due again; then the recount the CHANGELOG gives.
    check.exec(`UPDATE deliveries SET due_at = '2026-05-04T09:00:00.000Z' WHERE status = 'delivered';
      DELETE FROM delivery_totals; INSERT INTO delivery_totals SELECT destination_id, pipe_id, status, count(*)
      FROM deliveries WHERE status IN ${finals} GROUP BY 1, 2, 3;`);
    compare(check, 'before the claim');
    const claimed = await store.claimDeliveries({
      destinationId: 'dst_old',
      pipeIds: ['pip_old'],
      owner: 'w',
      limit: 10,
      leaseMs: 60_000,
      now: '2026-05-04T10:00:00.000Z',
    });
    expect(claimed.map((d) => d.status)).toHaveLength(4); // pending, delivered, retrying, sending
    compare(check, 'after the claim');
    await store.close();
    check.close();
  });

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: two stores on one file, 250 random steps, faults injected`, async () => {
      const summary = await run(seed, 250);
      // Not vacuous: events stored, faults thrown, every status entered at some minute.
      expect(summary.delivered).toBeGreaterThan(50);
      expect(summary.faults).toBeGreaterThan(0);
      expect(summary.reached.map((x) => x.status).sort()).toEqual([
        'dead',
        'delivered',
        'failed',
        'filtered',
        'pending',
        'retrying',
        'sending',
      ]);
    }, 60_000);
  }
});
