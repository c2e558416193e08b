/**
 * Test support (not exported): a store's pool whose transaction can be held at a chosen statement,
 * and what a backend waits for, as pg_locks says. The lock tests set each interleaving up with
 * these instead of hoping for it: one transaction is held, the other is seen waiting, then the
 * first is let go.
 */
import pg from 'pg';
import type { PgPool, PgPoolClient } from './driver.js';
import { postgresStore } from './index.js';
import { postgresUrl, query, type testStores } from './testing.js';

/**
 * A one-connection pool whose next statement matching `holdAt`'s pattern waits until released; it
 * remembers every statement its connection was sent and the SQLSTATE of every error it answered.
 * `options` go to pg.Pool (`options: '-c deadlock_timeout=50'` picks a deadlock's victim).
 *
 * @example
 * const g = await gatedPool();
 * const store = postgresStore({ pool: g.pool, schema });
 * const held = g.holdAt(/^commit$/i);
 */
export async function gatedPool(options: pg.PoolConfig = {}) {
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 1, ...options });
  const pid = Number((await pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  let gate: { pattern: RegExp; reached: () => void; open: Promise<void> } | undefined;
  const errors: string[] = [];
  const statements: string[] = [];
  const wrap = (client: pg.PoolClient): PgPoolClient =>
    new Proxy(client, {
      get(target, prop) {
        if (prop !== 'query') {
          const value = Reflect.get(target, prop);
          return typeof value === 'function' ? value.bind(target) : value;
        }
        return async (text: string, values?: unknown[]) => {
          statements.push(text);
          const held = gate;
          if (held?.pattern.test(text)) {
            gate = undefined;
            held.reached();
            await held.open;
          }
          try {
            return await target.query(text, values);
          } catch (err) {
            errors.push(String((err as { code?: unknown }).code));
            throw err;
          }
        };
      },
    }) as unknown as PgPoolClient;
  const gated: PgPool = { connect: async () => wrap(await pool.connect()), end: () => pool.end() };
  /** Holds the next statement matching `pattern`: `reached` once it is held, `release` lets it run. */
  const holdAt = (pattern: RegExp) => {
    let release = () => {};
    let reached = () => {};
    const open = new Promise<void>((r) => {
      release = r;
    });
    const isReached = new Promise<void>((r) => {
      reached = r;
    });
    gate = { pattern, reached, open };
    return { reached: isReached, release };
  };
  return { pool: gated, pid, holdAt, errors, statements, end: () => pool.end() };
}

export type GatedPool = Awaited<ReturnType<typeof gatedPool>>;

/**
 * A store of its own on `schema` (migrated already) over a {@link gatedPool}, closed with the other
 * `stores` of the test file.
 *
 * @example
 * const { g, store } = await gatedStore(stores, schema, { options: '-c deadlock_timeout=50' });
 */
export async function gatedStore(
  stores: ReturnType<typeof testStores>,
  schema: string,
  options: pg.PoolConfig = {},
) {
  const g = await gatedPool(options);
  const store = postgresStore({ pool: g.pool, schema });
  stores.closing(async () => {
    await store.close();
    await g.end();
  });
  return { g, store };
}

/**
 * The lock the backend `pid` waits for, if any: 'identity' (the schema-wide advisory lock),
 * 'identifier' (an identifier's advisory lock), or 'row' (a row or transaction lock).
 */
export async function waitsFor({ pid }: { pid: number }): Promise<string | undefined> {
  const rows = await query<{ locktype: string; objsubid: number }>(
    `SELECT locktype, objsubid FROM pg_locks WHERE pid = $1 AND NOT granted`,
    [pid],
  );
  return rows.map((r) =>
    r.locktype === 'advisory' ? (r.objsubid === 1 ? 'identity' : 'identifier') : 'row',
  )[0];
}

/** The pids the backend `pid` waits on (PostgreSQL's pg_blocking_pids). */
export async function blockersOf(pid: number): Promise<number[]> {
  const [row] = await query<{ pids: number[] }>('SELECT pg_blocking_pids($1) AS pids', [pid]);
  return row?.pids ?? [];
}

/**
 * A connection of the test's own (to hold locks as another writer would), closed with `stores`,
 * with its backend pid.
 *
 * @example
 * const { client, pid } = await ownConnection(stores);
 */
export async function ownConnection(stores: ReturnType<typeof testStores>) {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  stores.closing(() => client.end());
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  return { client, pid };
}
