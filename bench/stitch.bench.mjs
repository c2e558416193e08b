// What stitching a claimed batch costs the dispatcher's thread (issue 14): ~20,000 profiles linked the
// way ingest links them (`identity.link`, events of the pipeline benchmark: a hashed email, a hashed
// phone, an fbp and an fbc, every event a new person), then `identity.stitch` of batches of 500 of
// those events, each batch a fresh copy of its payloads (as a claim parses them). Reported per event,
// in CPU µs of this process (process.cpuUsage): the store's `findProfiles`, and the JavaScript of
// stitch around it (the whole call less findProfiles). Medians of rounds, with p10 and p90.
//
// On PostgreSQL the CPU is this process's only (the driver's parsing, not the server's work).
//
//   npm run bench -- stitch
//   BENCH_STITCH_PROFILES=20000 BENCH_STITCH_ROUNDS=40 BENCH_STITCH_STORES=sqlite,postgres
//   OPENPIPES_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createIdentity } from '@openpipes/core/identity';
import { postgresStore } from '@openpipes/store-postgres';
import { sqliteStore } from '@openpipes/store-sqlite';
import { benchSchema, report, tempDir } from './lib.mjs';
import { purchaseOf } from './pipeline-kit.mjs';

const profiles = Number(process.env.BENCH_STITCH_PROFILES ?? 20_000);
const rounds = Number(process.env.BENCH_STITCH_ROUNDS ?? 40);
const stores = (process.env.BENCH_STITCH_STORES ?? 'sqlite,postgres').split(',');
const BATCH = 500;

const load = () => loadavg().map((n) => Math.round(n * 100) / 100);
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function spread(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p10: at(0.1), p90: at(0.9) };
}

/** The store with `findProfiles` timed in CPU µs (its calls are not concurrent here). */
function timed(store) {
  let spent = 0;
  const wrapped = Object.create(store);
  wrapped.findProfiles = async (args) => {
    const t = cpu();
    try {
      return await store.findProfiles(args);
    } finally {
      spent += cpu() - t;
    }
  };
  const take = () => {
    const n = spent;
    spent = 0;
    return n;
  };
  return { store: wrapped, take };
}

async function measure(name, store) {
  let id = 0;
  const identity = createIdentity({ store, options: {}, now: () => Date.now(), newId: () => `prf_b${++id}` });
  // Linked as ingest links them, in calls of 500.
  for (let from = 0; from < profiles; from += BATCH) {
    const events = Array.from({ length: Math.min(BATCH, profiles - from) }, (_, k) => ({
      id: `evt_${from + k}`,
      ...purchaseOf(from + k),
    }));
    await identity.link(events);
  }
  const t = timed(store);
  const stitching = createIdentity({ store: t.store, options: {}, now: () => Date.now(), newId: () => 'x' });
  // Each round a batch of 500 linked events spread over the table, the first rounds warming up.
  const find = [];
  const js = [];
  const warm = 5;
  for (let r = 0; r < rounds + warm; r++) {
    const events = Array.from({ length: BATCH }, (_, k) => purchaseOf((r * 7919 + k * 37) % profiles));
    t.take();
    const t0 = cpu();
    const out = await stitching.stitch(events);
    const total = cpu() - t0;
    const inFind = t.take();
    if (!out[events[0].event_id]?.id) throw new Error('a linked event stitched to no profile');
    if (r < warm) continue;
    find.push(inFind / BATCH);
    js.push((total - inFind) / BATCH);
  }
  const extra = { store: name, profiles, batch: BATCH, rounds, load: load() };
  for (const [metric, samples] of [
    ['find_profiles_cpu_us_per_event', find],
    ['stitch_js_cpu_us_per_event', js],
    ['stitch_total_cpu_us_per_event', find.map((f, i) => f + js[i])],
  ]) {
    const s = spread(samples);
    report('stitch', metric, s.median, 'µs', { ...extra, p10: round(s.p10), p90: round(s.p90) });
  }
}

const round = (n) => Math.round(n * 100) / 100;

async function benchSqlite() {
  const dir = tempDir('op-bench-stitch-');
  const store = sqliteStore({ filename: join(dir, 'stitch.db') });
  await store.migrate();
  try {
    await measure('sqlite', store);
  } finally {
    await store.close();
  }
}

async function benchPostgres() {
  const pgSchema = await benchSchema('stitch', 'stitch');
  if (!pgSchema) return;
  const { schema } = pgSchema;
  const store = postgresStore({ connectionString: pgSchema.url, schema, poolSize: 2 });
  try {
    await store.migrate();
    await measure('postgres', store);
  } finally {
    await store.close();
    await pgSchema.close();
  }
}

if (stores.includes('sqlite')) await benchSqlite();
if (stores.includes('postgres')) await benchPostgres();
