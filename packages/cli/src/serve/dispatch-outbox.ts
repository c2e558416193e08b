/**
 * What the two ends of the dispatch thread send each other, batched once per tick
 * (dispatch-protocol.ts): the worker's log lines, engine observations and breakers
 * (`createOutbox`, with the logger whose lines go there), and the main thread's wake-ups and
 * configuration changes (`createMainOutbox`).
 */
import type { Logger } from '@openpipes/core';
import type { DispatchStatus, FromWorker, LogEntry, ObserverMethod, ToWorker } from './dispatch-protocol.js';
import { type LogLevel, logLevels } from './logger.js';

/**
 * Returns a function that runs `flush` in the next turn of the event loop (`setImmediate`), once
 * however often it is called before then: how both ends batch what they send per tick.
 */
export function oncePerTick(flush: () => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flush();
    });
  };
}

/**
 * A JSON.stringify replacer for what structured clone refused: errors become their text (with the
 * cause's), BigInts their digits, functions and symbols go, a circular reference becomes "[circular]".
 */
function jsonSafe(): (this: unknown, key: string, value: unknown) => unknown {
  const ancestors: object[] = [];
  return function (this: unknown, _key, value) {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'function' || typeof value === 'symbol') return undefined;
    if (value instanceof Error)
      return value.cause === undefined ? String(value) : `${String(value)} (cause: ${String(value.cause)})`;
    if (typeof value !== 'object' || value === null) return value;
    // `this` is the object holding `value`: drop the ancestors that are not on its path.
    while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
    if (ancestors.includes(value)) return '[circular]';
    ancestors.push(value);
    return value;
  };
}

/** The worker's log lines, observations and the breakers' state, sent once per tick. */
export function createOutbox(status: () => DispatchStatus | null, post: (message: FromWorker) => void) {
  let logs: LogEntry[] = [];
  let observations: Array<[ObserverMethod, unknown]> = [];
  let lastStatus = '';
  const flush = () => {
    const current = status();
    const text = current ? JSON.stringify(current) : '';
    const changed = text !== lastStatus;
    if (logs.length === 0 && observations.length === 0 && !changed) return;
    lastStatus = text;
    const message: FromWorker = {
      type: 'batch',
      logs,
      observations,
      ...(changed && current ? { status: current } : {}),
    };
    logs = [];
    observations = [];
    try {
      post(message);
    } catch {
      // A field that does not clone (a function, say): send the batch as JSON-safe copies. This
      // runs in a setImmediate of the worker, where a throw would end the thread and lose the batch.
      try {
        post(JSON.parse(JSON.stringify(message, jsonSafe())) as FromWorker);
      } catch (err) {
        post({
          type: 'batch',
          logs: [
            {
              level: 'error',
              message: 'the dispatch thread could not send its log lines',
              fields: { error: String(err) },
            },
          ],
          observations: [],
        });
      }
    }
  };
  const schedule = oncePerTick(flush);
  return {
    log(entry: LogEntry) {
      logs.push(entry);
      schedule();
    },
    observe(method: ObserverMethod, observation: unknown) {
      observations.push([method, observation]);
      schedule();
    },
    schedule,
    flush,
  };
}

/**
 * What the main thread tells the worker, sent once per tick: one `config` message however many
 * configuration writes the tick made (the worker then reads its configuration and syncs its lanes
 * once), then one `wake` with every destination that got work. In that order, so a write reaches
 * the worker before the wake of an event ingested after it.
 *
 * @example
 * ```ts
 * const outbox = createMainOutbox((message) => worker.postMessage(message));
 * outbox.configChanged(); // after a write
 * outbox.wake(['dst_1']); // after an ingest
 * ```
 */
export function createMainOutbox(send: (message: ToWorker) => void) {
  let configChanged = false;
  let wake = new Set<string>();
  const schedule = oncePerTick(() => {
    const config = configChanged;
    const ids = [...wake];
    configChanged = false;
    wake = new Set();
    if (config) send({ type: 'config' });
    if (ids.length > 0) send({ type: 'wake', ids });
  });
  return {
    configChanged() {
      configChanged = true;
      schedule();
    },
    wake(destinationIds: string[]) {
      for (const id of destinationIds) wake.add(id);
      schedule();
    },
  };
}

/** A logger (either call form) whose lines go to the main thread's logger, below-level ones dropped. */
export function forwardingLogger(level: LogLevel, send: (entry: LogEntry) => void): Logger {
  const min = logLevels.indexOf(level);
  const at =
    (entryLevel: LogLevel) =>
    (first: Record<string, unknown> | string, second?: Record<string, unknown> | string): void => {
      if (logLevels.indexOf(entryLevel) < min) return;
      const [message, fields] = typeof first === 'string' ? [first, second] : [second, first];
      send({
        level: entryLevel,
        message: typeof message === 'string' ? message : '',
        fields: typeof fields === 'object' && fields !== null ? { ...fields } : {},
      });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
