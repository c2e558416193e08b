/**
 * Sending alerts to channels, fire and forget. Each channel has its own bounded queue and sends one
 * message at a time, so a channel that hangs delays only its own messages and never a delivery or
 * another channel. Every request goes out through the egress guard (undici fetch with the guard's
 * dispatcher, redirects not followed) with a short timeout. Each outcome is kept as the channel's
 * health in the store, and a failure is logged as a warning; neither ever carries the URL.
 */
import { type Dispatcher, fetch } from 'undici';
import type { Logger } from '../logger.js';
import { createRedactor } from '../secrets/redact.js';
import { formatAlert } from './format.js';
import type { Alert, AlertChannelHealth, AlertChannelType, AlertSendResult } from './schemas.js';

/** The parts of a channel the sender needs. */
export interface AlertTarget {
  id: string;
  name: string;
  type: AlertChannelType;
  url_secret_id: string;
}

/** Small shared JSON state (the store's `getState` / `setState`). */
export interface AlertStateStore {
  get(key: string): Promise<unknown | null>;
  set(key: string, value: unknown | null): Promise<void>;
}

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

/** Where a channel's health lives in the store's state. */
export const channelHealthKey = (channelId: string) => `alerts:channel:${channelId}:health`;

export const emptyHealth = (): AlertChannelHealth => ({
  last_delivery: null,
  consecutive_failures: 0,
  failure_count: 0,
  dropped_count: 0,
});

/** Reads a stored health value defensively. */
export function toHealth(value: unknown): AlertChannelHealth {
  const raw = (value ?? {}) as Partial<AlertChannelHealth>;
  const count = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.floor(n) : 0);
  return {
    last_delivery: raw.last_delivery ?? null,
    consecutive_failures: count(raw.consecutive_failures),
    failure_count: count(raw.failure_count),
    dropped_count: count(raw.dropped_count),
  };
}

interface Queue {
  items: Array<{ target: AlertTarget; alert: Alert }>;
  running: Promise<void> | null;
  lastDropWarning: number;
}

export function createAlertSender(options: AlertSenderOptions): AlertSender {
  const queues = new Map<string, Queue>();
  const stopping = new AbortController();
  let closed = false;
  let idleWaiters: Array<() => void> = [];

  const isIdle = () => [...queues.values()].every((q) => q.items.length === 0 && q.running === null);
  const notifyIdle = () => {
    if (!isIdle()) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  // Health updates are read-modify-write; one chain per channel keeps this process's own updates
  // from overwriting each other.
  const healthChains = new Map<string, Promise<void>>();
  const updateHealth = (channelId: string, change: (health: AlertChannelHealth) => void) => {
    const previous = healthChains.get(channelId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        const key = channelHealthKey(channelId);
        const health = toHealth(await options.state.get(key));
        change(health);
        await options.state.set(key, health);
      })
      .catch((err) =>
        options.logger.warn('could not record an alert channel health', {
          channel_id: channelId,
          error: String(err),
        }),
      );
    healthChains.set(channelId, next);
    void next.finally(() => {
      if (healthChains.get(channelId) === next) healthChains.delete(channelId);
    });
    return next;
  };

  const deliver = async (target: AlertTarget, alert: Alert): Promise<AlertSendResult> => {
    const at = () => new Date(options.now()).toISOString();
    let url: string | null;
    try {
      url = await options.resolveUrl(target);
    } catch (err) {
      url = null;
      options.logger.warn('could not read an alert channel URL', {
        channel_id: target.id,
        error: String(err),
      });
    }
    let result: AlertSendResult;
    if (!url) {
      result = {
        ok: false,
        status: null,
        error: `the channel's URL secret ${target.url_secret_id} has no value`,
        at: at(),
      };
    } else {
      result = await post(url, target, alert);
      result.at = at();
    }
    await updateHealth(target.id, (health) => {
      health.last_delivery = result;
      if (result.ok) health.consecutive_failures = 0;
      else {
        health.consecutive_failures++;
        health.failure_count++;
      }
    });
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

  const post = async (url: string, target: AlertTarget, alert: Alert): Promise<AlertSendResult> => {
    // The URL is the channel's credential (Slack and Teams put the token in the path): whatever we
    // keep or log about a failure has it, and its path, replaced.
    const secrets: Record<string, string> = { ALERT_CHANNEL_URL: url };
    try {
      const { pathname, search } = new URL(url);
      if (pathname.length + search.length > 1) secrets.ALERT_CHANNEL_URL_PATH = `${pathname}${search}`;
    } catch {
      // An invalid URL fails below; nothing to add.
    }
    const redact = createRedactor(secrets);
    // A plain controller and timer rather than AbortSignal.any(AbortSignal.timeout(...)): Node holds
    // the sources of a combined signal weakly, and a collected timeout signal never fires.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, options.timeoutMs);
    const onStop = () => controller.abort();
    stopping.signal.addEventListener('abort', onStop, { once: true });
    const signal = controller.signal;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'openpipes-alerts/1' },
        body: JSON.stringify(formatAlert(target.type, alert, { id: target.id, name: target.name })),
        dispatcher: options.dispatcher,
        redirect: 'manual',
        signal,
      });
      const snippet = await readSnippet(response.body, 500);
      const ok = response.status >= 200 && response.status < 300;
      const why =
        response.status >= 300 && response.status < 400 ? 'redirects are not followed' : snippet.trim();
      return {
        ok,
        status: response.status,
        error: ok ? null : redact(`HTTP ${response.status}${why ? `: ${why}` : ''}`),
        at: '',
      };
    } catch (err) {
      const why = timedOut
        ? `timed out after ${options.timeoutMs} ms`
        : stopping.signal.aborted
          ? 'aborted: the engine stopped'
          : describeFetchError(err, options.timeoutMs);
      return { ok: false, status: null, error: redact(why), at: '' };
    } finally {
      clearTimeout(timer);
      stopping.signal.removeEventListener('abort', onStop);
    }
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

  return {
    enqueue(target, alert) {
      if (closed) return false;
      let queue = queues.get(target.id);
      if (!queue) {
        queue = { items: [], running: null, lastDropWarning: 0 };
        queues.set(target.id, queue);
      }
      if (queue.items.length >= options.queueSize) {
        void updateHealth(target.id, (health) => {
          health.dropped_count++;
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
      await Promise.all([...healthChains.values()]);
    },
  };
}

/** Reads at most `max` characters of a response body, then lets the rest go. */
async function readSnippet(body: ReadableStream<Uint8Array> | null, max: number): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < max) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // A body cut short (timeout, reset) still leaves the status, which is what matters.
  } finally {
    reader.cancel().catch(() => {});
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Why a fetch failed, in words an operator understands. */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  const error = err as {
    name?: string;
    message?: string;
    cause?: { code?: string; name?: string; message?: string };
  };
  if (error?.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  if (error?.name === 'AbortError') return 'aborted: the engine stopped';
  const cause = error?.cause;
  if (cause && typeof cause === 'object') {
    if (cause.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
    const code = cause.code ?? cause.name ?? 'ERROR';
    return `${code}: ${cause.message ?? error.message ?? 'request failed'}`;
  }
  return `${error?.name ?? 'Error'}: ${error?.message ?? String(err)}`;
}
