// Identity at size: 1,000,000 profiles holding 5,000,000 identifiers (a user id, an anonymous id, an
// email digest, an fbp and an fbc each), bulk-loaded in SQL into a SQLite file and into a fresh
// PostgreSQL schema (dropped after). Then, through the engine's own identity code (`createIdentity`,
// the store API the dispatcher uses):
//
// A. The stitch lookup the dispatcher makes per claimed batch: `identity.stitch(events)` for ONE
//    event (a purchase carrying a known user id, an email digest and an fbp) and for a batch of 500
//    such events: median, p95, p99 per call, and per event.
// B. Linking at that size, per event: `identity.link([event])` with a known user id and a new
//    anonymous id (the common case: a returning user on a new browser), one event per call, and
//    per event in calls of 100.
//
// Prints JSON lines, each with the scale and the load average of the machine when it was measured.
//
//   npm run bench -- identity
//   BENCH_IDENTITY_PROFILES=1000000 BENCH_IDENTITY_PG_PROFILES=1000000 BENCH_IDENTITY_STORES=sqlite,postgres
//   OPENPIPES_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createIdentity } from '@openpipes/core/identity';
import { postgresStore } from '@openpipes/store-postgres';
import { sqliteStore } from '@openpipes/store-sqlite';
import Database from 'better-sqlite3';
import { benchSchema, report, tempDir } from './lib.mjs';

const profiles = Number(process.env.BENCH_IDENTITY_PROFILES ?? 1_000_000);
const pgProfiles = Number(process.env.BENCH_IDENTITY_PG_PROFILES ?? profiles);
const stores = (process.env.BENCH_IDENTITY_STORES ?? 'sqlite,postgres').split(',');
const PER_PROFILE = 5;
const BATCH = 500;
const SINGLE_RUNS = 2_000;
const BATCH_RUNS = 60;
const LINK_RUNS = 2_000;

const load = () => loadavg().map((n) => Math.round(n * 100) / 100);
const hex64 = (n) => n.toString(16).padStart(64, '0');
// Seen a day ago: every identifier is inside its window.
const seen = Date.now() - 86_400_000;

/** A deterministic spread of profile numbers (a multiplicative hash), so lookups hit the whole table. */
const pick = (i, n) => Number((BigInt(i) * 2654435761n + 97n) % BigInt(n));

/** A backend purchase of profile `p`: its user id, its email digest and its fbp. */
function purchaseOf(p, i) {
  return {
    event_id: `ord_${i}`,
    event_type: 'purchase',
    event_time: new Date().toISOString(),
    event_payload: {
      order_id: `ord_${i}`,
      user_id: `u${p}`,
      hashed_email: hex64(p),
      fbp: `fb.1.${seen}.${p}`,
      value: 10,
      currency: 'EUR',
    },
  };
}

function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p95: at(0.95), p99: at(0.99), min: s[0], max: s[s.length - 1] };
}

function reportSpread(store, metric, samples, extra) {
  const p = percentiles(samples);
  for (const q of ['median', 'p95', 'p99'])
    report('identity', `${metric}_${q}`, p[q], 'ms', { store, ...extra, runs: samples.length, load: load() });
}

async function measure(storeName, store, n) {
  const scale = { profiles: n, identifiers: n * PER_PROFILE };
  let id = 0;
  const identity = createIdentity({
    store,
    options: {},
    now: () => Date.now(),
    newId: () => `prf_bench_${process.pid}_${++id}`,
  });
  // Warm the statement caches and the pages a first call reads.
  for (let i = 0; i < 200; i++) await identity.stitch([purchaseOf(pick(i + 7_000_000, n), i)]);

  const single = [];
  for (let i = 0; i < SINGLE_RUNS; i++) {
    const event = purchaseOf(pick(i, n), i);
    const t = performance.now();
    const out = await identity.stitch([event]);
    single.push(performance.now() - t);
    if (!out[event.event_id]?.id) throw new Error(`no profile stitched for ${event.event_payload.user_id}`);
  }
  reportSpread(storeName, 'stitch_1_event', single, scale);

  const batch = [];
  for (let r = 0; r < BATCH_RUNS; r++) {
    const events = Array.from({ length: BATCH }, (_, k) => purchaseOf(pick(1_000_000 + r * BATCH + k, n), k));
    const t = performance.now();
    await identity.stitch(events);
    batch.push(performance.now() - t);
  }
  reportSpread(storeName, 'stitch_500_events', batch, scale);
  report('identity', 'stitch_500_events_per_event_median', percentiles(batch).median / BATCH, 'ms', {
    store: storeName,
    ...scale,
    load: load(),
  });

  // Linking: a known user id on a new browser (a new anonymous id joins the user's profile).
  const linkOne = [];
  for (let i = 0; i < LINK_RUNS; i++) {
    const p = pick(3_000_000 + i, n);
    const event = {
      id: `evt_bench_${i}`,
      event_time: new Date().toISOString(),
      event_payload: { user_id: `u${p}`, anonymous_id: `new-${process.pid}-${i}`, ip: '203.0.113.7' },
    };
    const t = performance.now();
    await identity.link([event]);
    linkOne.push(performance.now() - t);
  }
  reportSpread(storeName, 'link_1_event', linkOne, scale);

  const linkBatch = [];
  for (let r = 0; r < 40; r++) {
    const events = Array.from({ length: 100 }, (_, k) => {
      const i = r * 100 + k;
      return {
        id: `evt_bench_b${i}`,
        event_time: new Date().toISOString(),
        event_payload: { user_id: `u${pick(5_000_000 + i, n)}`, anonymous_id: `newb-${process.pid}-${i}` },
      };
    });
    const t = performance.now();
    await identity.link(events);
    linkBatch.push((performance.now() - t) / 100);
  }
  reportSpread(storeName, 'link_per_event_in_100', linkBatch, scale);
}

// ---- SQLite ----------------------------------------------------------------------------------
async function benchSqlite() {
  const dir = tempDir('op-bench-identity-');
  const filename = join(dir, 'identity.db');
  const store = sqliteStore({ filename });
  await store.migrate();
  await store.close();

  const t0 = performance.now();
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const iso = new Date(seen).toISOString();
  // Rows are generated in SQL (a recursive counter), not in JavaScript, each kind inserted in key order
  // (the primary key's b-tree is appended to, not split at random) and the profile index built after.
  db.exec(`
    CREATE TEMP TABLE n (x INTEGER PRIMARY KEY);
    WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x + 1 < ${profiles})
    INSERT INTO n SELECT x FROM c;
    DROP INDEX profile_identifiers_profile;
    BEGIN;
    INSERT INTO profiles (id, merged_into, created_at, last_seen_at, ip, user_agent)
      SELECT printf('prf_%012d', x), NULL, '${iso}', '${iso}', '203.0.113.' || (x % 250), 'Mozilla/5.0 (bench)' FROM n;
    INSERT INTO profile_identifiers (kind, key, profile_id, value, first_seen_at, last_seen_at)
      SELECT 'user_id', 'u' || x, printf('prf_%012d', x), json_quote('u' || x), '${iso}', '${iso}' FROM n ORDER BY 2;
    INSERT INTO profile_identifiers (kind, key, profile_id, value, first_seen_at, last_seen_at)
      SELECT 'anonymous_id', 'a' || x, printf('prf_%012d', x), json_quote('a' || x), '${iso}', '${iso}' FROM n ORDER BY 2;
    INSERT INTO profile_identifiers (kind, key, profile_id, value, first_seen_at, last_seen_at)
      SELECT 'email', printf('%064x', x), printf('prf_%012d', x), json_object('sha256', printf('%064x', x)), '${iso}', '${iso}' FROM n ORDER BY 2;
    INSERT INTO profile_identifiers (kind, key, profile_id, value, first_seen_at, last_seen_at)
      SELECT 'fbp', 'fb.1.${seen}.' || x, printf('prf_%012d', x), json_quote('fb.1.${seen}.' || x), '${iso}', '${iso}' FROM n ORDER BY 2;
    INSERT INTO profile_identifiers (kind, key, profile_id, value, first_seen_at, last_seen_at)
      SELECT 'fbc', 'fb.1.${seen}.IwAR' || x, printf('prf_%012d', x), json_quote('fb.1.${seen}.IwAR' || x), '${iso}', '${iso}' FROM n ORDER BY 2;
    COMMIT;
    CREATE INDEX profile_identifiers_profile ON profile_identifiers (profile_id);
    DROP TABLE n;
    ANALYZE;
  `);
  db.close();
  report('identity', 'load_seconds', (performance.now() - t0) / 1000, 's', {
    store: 'sqlite',
    profiles,
    identifiers: profiles * PER_PROFILE,
    load: load(),
  });
  const bench = sqliteStore({ filename });
  try {
    await measure('sqlite', bench, profiles);
  } finally {
    await bench.close();
  }
}

// ---- PostgreSQL ------------------------------------------------------------------------------
async function benchPostgres() {
  const pgSchema = await benchSchema('identity', 'identity');
  if (!pgSchema) return;
  const { schema, admin } = pgSchema;
  const store = postgresStore({ connectionString: pgSchema.url, schema, poolSize: 2 });
  try {
    await store.migrate();
    const t0 = performance.now();
    const n = pgProfiles;
    const iso = new Date(seen).toISOString();
    const s = `"${schema}"`;
    // Indexes are dropped during the load and rebuilt after: one sort instead of 5M index inserts.
    await admin.query(`ALTER TABLE ${s}.profile_identifiers DROP CONSTRAINT profile_identifiers_pkey`);
    await admin.query(`DROP INDEX ${s}.profile_identifiers_profile`);
    await admin.query(
      `INSERT INTO ${s}.profiles (id, merged_into, created_at, last_seen_at, ip, user_agent)
       SELECT 'prf_' || lpad(x::text, 12, '0'), NULL, $1, $1, '203.0.113.' || (x % 250), 'Mozilla/5.0 (bench)'
       FROM generate_series(0, $2 - 1) x`,
      [iso, n],
    );
    await admin.query(
      `INSERT INTO ${s}.profile_identifiers (kind, key, profile_id, value, first_seen_at, last_seen_at)
       SELECT k.kind, k.key, 'prf_' || lpad(x::text, 12, '0'), to_jsonb(k.key), $1, $1
       FROM generate_series(0, $2 - 1) x,
       LATERAL (VALUES ('user_id', 'u' || x), ('anonymous_id', 'a' || x), ('fbp', 'fb.1.' || $3 || '.' || x),
                       ('fbc', 'fb.1.' || $3 || '.IwAR' || x)) AS k(kind, key)`,
      [iso, n, String(seen)],
    );
    await admin.query(
      `INSERT INTO ${s}.profile_identifiers (kind, key, profile_id, value, first_seen_at, last_seen_at)
       SELECT 'email', lpad(to_hex(x), 64, '0'), 'prf_' || lpad(x::text, 12, '0'),
              jsonb_build_object('sha256', lpad(to_hex(x), 64, '0')), $1, $1
       FROM generate_series(0, $2 - 1) x`,
      [iso, n],
    );
    await admin.query(`ALTER TABLE ${s}.profile_identifiers ADD PRIMARY KEY (kind, key)`);
    await admin.query(`CREATE INDEX profile_identifiers_profile ON ${s}.profile_identifiers (profile_id)`);
    await admin.query(`VACUUM ANALYZE ${s}.profiles`);
    await admin.query(`VACUUM ANALYZE ${s}.profile_identifiers`);
    report('identity', 'load_seconds', (performance.now() - t0) / 1000, 's', {
      store: 'postgres',
      profiles: n,
      identifiers: n * PER_PROFILE,
      load: load(),
    });
    await measure('postgres', store, n);
  } finally {
    await store.close();
    await pgSchema.close();
  }
}

if (stores.includes('sqlite')) await benchSqlite();
if (stores.includes('postgres')) await benchPostgres();
