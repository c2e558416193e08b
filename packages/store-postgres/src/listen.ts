/**
 * `LISTEN` on one dedicated connection, shared by every subscriber of a store. If the connection
 * drops (server restart, network, `pg_terminate_backend`), it reconnects with backoff and then wakes
 * every destination it has heard of, since notifications sent while it was away are lost. A
 * heartbeat query notices a connection that died silently. The dispatchers' poll tick remains the
 * safety net for anything missed.
 */
import type { PgNotification, PgPoolClient } from './driver.js';

export interface ListenerOptions {
  channel: string;
  /** A connection to hold for LISTEN; `release(error)` drops it. */
  connect: () => Promise<PgPoolClient>;
  onError?: (error: Error) => void;
  /** Heartbeat period, ms. Default 30 000. */
  heartbeatMs?: number;
}

export interface Listener {
  /** Adds a subscriber; resolves once LISTEN is active. Returns its unsubscribe function. */
  add(fn: (destinationIds: string[]) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

const maxKnown = 10_000;

/**
 * The subscribers of one channel and the destination ids it has named (at most 10 000 kept, woken
 * again after a reconnect, when a notification may have been missed).
 */
function createFanout(channel: string) {
  const subscribers = new Set<(ids: string[]) => void>();
  const known = new Set<string>();
  const deliver = (ids: string[]) => {
    for (const fn of subscribers) {
      try {
        fn(ids);
      } catch {
        // A subscriber's fault is its own; the others still get woken.
      }
    }
  };

  const onNotification = (message: PgNotification) => {
    if (message.channel !== channel || !message.payload) return;
    const ids = message.payload.split(',').filter(Boolean);
    for (const id of ids) {
      if (known.size >= maxKnown) known.clear();
      known.add(id);
    }
    deliver(ids);
  };
  return { subscribers, known, deliver, onNotification };
}

export function createListener(options: ListenerOptions): Listener {
  const { subscribers, known, deliver, onNotification } = createFanout(options.channel);
  let client: PgPoolClient | null = null;
  let connecting: Promise<void> | null = null;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let heartbeat: NodeJS.Timeout | null = null;
  let backoffMs = 100;
  let closed = false;

  const drop = (error: Error) => {
    const current = client;
    client = null;
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    if (current) {
      current.removeAllListeners('notification');
      current.removeAllListeners('end');
      current.release(error);
    }
    if (closed) return;
    options.onError?.(error);
    if (!reconnectTimer) {
      reconnectTimer = setTimeout(() => {
        reconnectTimer = null;
        void open().then(
          () => deliver([...known]),
          (err: unknown) => drop(err instanceof Error ? err : new Error(String(err))),
        );
      }, backoffMs);
      reconnectTimer.unref();
      backoffMs = Math.min(backoffMs * 2, 5000);
    }
  };

  const open = async () => {
    const next = await options.connect();
    // Attach before LISTEN: an error between the two must not go unhandled.
    next.on('error', (err) => {
      if (client === next) drop(err);
    });
    next.on('end', () => {
      if (client === next) drop(new Error('the LISTEN connection ended'));
    });
    next.on('notification', onNotification);
    try {
      await next.query(`LISTEN "${options.channel}"`);
    } catch (err) {
      next.removeAllListeners('notification');
      next.release(err instanceof Error ? err : true);
      throw err;
    }
    if (closed) {
      next.release(true);
      return;
    }
    client = next;
    backoffMs = 100;
    heartbeat = setInterval(() => {
      const current = client;
      current?.query('SELECT 1').catch((err: unknown) => {
        if (client === current) drop(err instanceof Error ? err : new Error(String(err)));
      });
    }, options.heartbeatMs ?? 30_000);
    heartbeat.unref();
  };

  const stop = () => {
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    const current = client;
    client = null;
    if (current) {
      current.removeAllListeners('notification');
      current.removeAllListeners('end');
      // Destroy rather than return it: a pooled connection must not keep listening.
      current.release(true);
    }
  };

  return {
    async add(fn) {
      if (closed) throw new Error('the listener is closed');
      subscribers.add(fn);
      if (!client && !reconnectTimer) {
        connecting ??= open().finally(() => {
          connecting = null;
        });
        try {
          await connecting;
        } catch (err) {
          subscribers.delete(fn);
          throw err;
        }
      }
      return async () => {
        subscribers.delete(fn);
        if (subscribers.size === 0) stop();
      };
    },
    async close() {
      closed = true;
      await connecting?.catch(() => {});
      stop();
      subscribers.clear();
    },
  };
}
