/**
 * Sending alerts to channels, fire and forget. Each channel has its own bounded queue and sends one
 * message at a time, so a channel that hangs delays only its own messages and never a delivery or
 * another channel. Every request goes out through the egress guard (undici fetch with the guard's
 * dispatcher, redirects not followed) with a short timeout (`post.ts`). Each outcome is kept as the
 * channel's health in the store (`health.ts`), and a failure is logged as a warning; neither ever
 * carries the URL.
 */
import type { Dispatcher } from 'undici';
import type { Logger } from '../logger.js';
import { type AlertStateStore, createHealthUpdates, type HealthUpdates, recordOutcome } from './health.js';
import { type AlertTarget, postAlert } from './post.js';
import type { Alert, AlertSendResult } from './schemas.js';

export type { AlertStateStore } from './health.js';
export { channelHealthKey, emptyHealth, toHealth } from './health.js';
export type { AlertTarget } from './post.js';
export { describeFetchError } from './post.js';

export interface AlertSenderOptions {
  /** The egress guard's dispatcher. */
  dispatcher: Dispatcher;
  /** The channel's URL, decrypted; null when its secret no longer exists. */
  resolveUrl: (target: AlertTarget) => Promise<string | null>;
  state: AlertStateStore;
  logger: Logger;
  now: () => number;
  /** Per request, connect to last byte. */
  timeoutMs: number;
  /** Messages waiting per channel; more are dropped (and counted in the channel's health). */
  queueSize: number;
}

export interface AlertSender {
  /** Queues a message; returns at once. False when the queue was full or the sender closed. */
  enqueue(target: AlertTarget, alert: Alert): boolean;
  /** Sends one message now (outside the queue) and resolves with what happened. Never throws. */
  send(target: AlertTarget, alert: Alert): Promise<AlertSendResult>;
  /** Resolves when every queue is empty and nothing is in flight. */
  idle(): Promise<void>;
  /** Refuses new messages, lets queued ones go for up to `graceMs`, then aborts the rest. */
  close(graceMs: number): Promise<void>;
}

interface Queue {
  items: Array<{ target: AlertTarget; alert: Alert }>;
  running: Promise<void> | null;
  lastDropWarning: number;
}

/** Sends one message: its channel's URL resolved, posted, the outcome kept as health and logged when failed. */
function createDeliver(options: AlertSenderOptions, health: HealthUpdates, stopping: AbortSignal) {
  const resolveUrl = async (target: AlertTarget): Promise<string | null> => {
    try {
      return await options.resolveUrl(target);
    } catch (err) {
      options.logger.warn('could not read an alert channel URL', {
        channel_id: target.id,
        error: String(err),
      });
      return null;
    }
  };
  return async (target: AlertTarget, alert: Alert): Promise<AlertSendResult> => {
    const at = () => new Date(options.now()).toISOString();
    const url = await resolveUrl(target);
    let result: AlertSendResult;
    if (!url) {
      result = {
        ok: false,
        status: null,
        error: `the channel's URL secret ${target.url_secret_id} has no value`,
        at: at(),
      };
    } else {
      result = await postAlert(url, target, alert, {
        dispatcher: options.dispatcher,
        timeoutMs: options.timeoutMs,
        stopping,
      });
      result.at = at();
    }
    await health.update(target.id, (h) => recordOutcome(h, result));
    if (!result.ok) {
      options.logger.warn('alert channel delivery failed', {
        channel_id: target.id,
        channel: target.name,
        type: target.type,
        alert_kind: alert.kind,
        status: result.status,
        error: result.error,
      });
    }
    return result;
  };
}

export function createAlertSender(options: AlertSenderOptions): AlertSender {
  const queues = new Map<string, Queue>();
  const stopping = new AbortController();
  const health = createHealthUpdates(options.state, options.logger);
  const deliver = createDeliver(options, health, stopping.signal);
  let closed = false;
  let idleWaiters: Array<() => void> = [];

  const isIdle = () => [...queues.values()].every((q) => q.items.length === 0 && q.running === null);
  const notifyIdle = () => {
    if (!isIdle()) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const drain = async (queue: Queue) => {
    for (;;) {
      const next = queue.items.shift();
      if (!next) break;
      await deliver(next.target, next.alert);
    }
  };

  const run = (queue: Queue) => {
    if (queue.running) return;
    queue.running = drain(queue)
      .catch((err) => options.logger.error('alert queue crashed', { error: String(err) }))
      .finally(() => {
        queue.running = null;
        // Something may have been queued between the last shift and now.
        if (queue.items.length > 0 && !closed) run(queue);
        else notifyIdle();
      });
  };

  const idle = (): Promise<void> => {
    if (isIdle()) return Promise.resolve();
    return new Promise((resolve) => idleWaiters.push(resolve));
  };

  const drop = (queue: Queue, target: AlertTarget) => {
    void health.update(target.id, (h) => {
      h.dropped_count++;
    });
    const now = options.now();
    if (now - queue.lastDropWarning > 60_000) {
      queue.lastDropWarning = now;
      options.logger.warn('alert channel cannot keep up; dropping messages', {
        channel_id: target.id,
        channel: target.name,
        queued: queue.items.length,
      });
    }
  };

  return {
    enqueue(target, alert) {
      if (closed) return false;
      let queue = queues.get(target.id);
      if (!queue) {
        queue = { items: [], running: null, lastDropWarning: 0 };
        queues.set(target.id, queue);
      }
      if (queue.items.length >= options.queueSize) {
        drop(queue, target);
        return false;
      }
      queue.items.push({ target, alert });
      run(queue);
      return true;
    },

    send(target, alert) {
      return deliver(target, alert);
    },

    idle,

    async close(graceMs) {
      if (closed) return;
      closed = true;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        idle(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
      // Whatever is still queued is dropped; what is in flight is aborted and finishes at once.
      for (const queue of queues.values()) queue.items.length = 0;
      stopping.abort();
      await Promise.all([...queues.values()].map((q) => q.running));
      await health.settled();
    },
  };
}
