/**
 * Wake-ups on PostgreSQL: after a commit that made work due, `NOTIFY` names the destinations
 * (coalesced, at most one NOTIFY query in flight per store); `subscribe()` `LISTEN`s for them on a
 * dedicated connection (see `listen.ts`), so idle dispatchers sleep instead of polling.
 */
import { sql } from 'kysely';
import pg from 'pg';
import type { Connection } from './connection.js';
import type { PgPoolClient } from './driver.js';
import { createListener, type Listener } from './listen.js';

/** Sends `NOTIFY`s for destinations with new work. */
export interface Notifier {
  wake: (destinationIds: Iterable<string>) => void;
  /** Resolves when no NOTIFY is in flight. */
  flushed: () => Promise<void>;
}

/** Coalesces wake-ups into `pg_notify` calls on `channel`; a lost one costs only a poll tick. */
export function createNotifier(connection: Connection, channel: string): Notifier {
  const pendingWake = new Set<string>();
  let flushing: Promise<void> | null = null;
  const wake = (destinationIds: Iterable<string>) => {
    for (const id of destinationIds) pendingWake.add(id);
    if (pendingWake.size === 0 || flushing) return;
    flushing = (async () => {
      while (pendingWake.size > 0 && !connection.isClosed()) {
        const ids = [...pendingWake];
        pendingWake.clear();
        try {
          // A NOTIFY payload is at most 8000 bytes; ids are short, so chunks of 100 fit.
          const chunks: string[] = [];
          for (let i = 0; i < ids.length; i += 100) chunks.push(ids.slice(i, i + 100).join(','));
          await sql`SELECT pg_notify(${channel}, c) FROM unnest(${chunks}::text[]) AS c`.execute(
            connection.db,
          );
        } catch {
          // Only a wake-up is lost: the dispatchers' poll tick finds the work anyway.
        }
      }
    })().finally(() => {
      flushing = null;
      // Ids added between the loop's last check and here would otherwise wait for the next wake.
      if (pendingWake.size > 0 && !connection.isClosed()) wake([]);
    });
  };
  return { wake, flushed: async () => void (await flushing) };
}

/** Where `LISTEN` connects. */
export interface SubscriptionOptions {
  channel: string;
  applicationName: string;
  /** When set (and no `listenConnectionString`), LISTEN borrows a connection of the caller's pool. */
  callerPool: boolean;
  connectionString?: string;
  listenConnectionString?: string;
  onListenError?: (error: Error) => void;
}

/** `subscribe()` and its teardown: one shared LISTEN connection, made on first use. */
export function createSubscriptions(connection: Connection, options: SubscriptionOptions) {
  let listener: Listener | null = null;
  return {
    subscribe: (onWake: (destinationIds: string[]) => void) =>
      connection.guard(async () => {
        listener ??= createListener({
          channel: options.channel,
          connect: async () => {
            if (options.callerPool && !options.listenConnectionString) {
              return connection.connectShielded(await connection.getPool());
            }
            // Our own pool stays whole for queries: LISTEN gets a connection of its own.
            const client = new pg.Client({
              connectionString: options.listenConnectionString ?? options.connectionString,
              application_name: `${options.applicationName}-listen`,
              keepAlive: true,
            });
            await client.connect();
            return asPoolClient(client);
          },
          onError: options.onListenError,
        });
        return listener.add(onWake);
      }),
    async close() {
      await listener?.close();
      listener = null;
    },
  };
}

/** A `pg.Client` made for LISTEN, shaped like a pool client (release = end). */
function asPoolClient(client: pg.Client): PgPoolClient {
  return {
    query: (text, values) => client.query(text, values),
    release: () => {
      client.end().catch(() => {});
    },
    on: ((event: 'error', fn: (error: Error) => void) => client.on(event, fn)) as PgPoolClient['on'],
    removeAllListeners: (event) => client.removeAllListeners(event),
  };
}
