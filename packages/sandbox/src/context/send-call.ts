/**
 * A `send()` call in a {@link GuestContext}: the harness runs the user's function, its promise is
 * driven to the end while each `fetch` goes to the host (the worker's {@link SendHost}) and its
 * answer comes back as a settled guest promise. The call has a CPU limit (its own guest time) and
 * a wall-clock limit that covers awaiting, less the time other calls' code held the thread.
 */
import type { QuickJSHandle } from 'quickjs-emscripten';
import { toFailure } from '../failure.js';
import { safeJsonParse } from '../output.js';
import type { ConsoleLine, SandboxFailure, SandboxLimits } from '../types.js';
import { GuestCodeError } from './failures.js';
import type { Deadline, GuestContext } from './guest-context.js';
import { guestMsOfWorker, now } from './meter.js';
import { readInput, type TransformInput } from './transform-call.js';

/** Async host work a send() call does (fetch); provided by the worker per call. */
export interface SendHost {
  fetch(requestJson: string): Promise<string>;
}

export interface SendOutcome {
  value?: unknown;
  error?: SandboxFailure;
  logs: ConsoleLine[];
}

type SendDeadline = Extract<Deadline, { mode: 'send' }>;

/**
 * Wall-clock time of the current send() call so far, less the time other calls' guest code held
 * the thread meanwhile (it could not run then: that wait is not its own).
 */
export function sendElapsed(g: GuestContext, d: SendDeadline): number {
  const others = guestMsOfWorker() - d.othersAtStart - g.callGuestMs;
  return now() - d.startedAt - Math.max(0, others);
}

/**
 * The bridge's `fetch`: hands the request to the running call's host and returns the guest
 * promise its answer settles. Throws where no send() call is running (a transform).
 */
export function startFetch(g: GuestContext, requestJson: string): QuickJSHandle {
  const host = g.sendHost;
  if (!host) throw new Error('fetch is not available here');
  const { ctx, runtime } = g;
  const deferred = ctx.newPromise();
  g.pending.add(deferred);
  host.fetch(requestJson).then(
    (responseJson) => {
      if (g.gone || !ctx.alive || !g.pending.has(deferred)) return;
      hostStep(g, () => {
        const h = ctx.newString(responseJson);
        g.guest(() => deferred.resolve(h));
        h.dispose();
        g.pending.delete(deferred);
        deferred.dispose();
        g.guest(() => runtime.executePendingJobs());
      });
    },
    (err: Error) => {
      if (g.gone || !ctx.alive || !g.pending.has(deferred)) return;
      hostStep(g, () => {
        const h = ctx.newError({ name: 'TypeError', message: `fetch failed: ${err.message}` });
        g.guest(() => deferred.reject(h));
        h.dispose();
        g.pending.delete(deferred);
        deferred.dispose();
        g.guest(() => runtime.executePendingJobs());
      });
    },
  );
  // The caller (QuickJS) takes its own reference; the deferred keeps ours until it settles.
  return deferred.handle.dup();
}

/**
 * Runs guest work from a fetch callback. What it throws (the engine out of native stack: a value
 * nested too deep) would otherwise be an uncaught error that kills the worker and every call on
 * it; it ends this call instead, and the context is abandoned.
 */
function hostStep(g: GuestContext, step: () => void): void {
  try {
    step();
  } catch (err) {
    const e = g.hostOverflow(err);
    g.broken = true;
    g.unclean = true;
    const failure: SandboxFailure =
      e instanceof GuestCodeError
        ? e.failure
        : { code: 'WORKER_CRASHED', message: `sandbox failure: ${(e as Error)?.message ?? String(e)}` };
    g.sendFault?.(failure);
  }
}

/**
 * Runs `send()`. Resolves to what it returned (parsed safely) or a failure; the wall-clock limit
 * covers awaiting promises, so a promise that never settles ends in TIMEOUT.
 */
export async function runSend(
  g: GuestContext,
  input: {
    events: TransformInput;
    secretsJson: string;
    limits: SandboxLimits;
    host: SendHost;
  },
): Promise<SendOutcome> {
  const { ctx, runtime } = g;
  g.uses++;
  g.resetCall(input.limits);
  g.sendHost = input.host;
  g.callGuestMs = 0;
  const events = readInput(g, input.events);
  if ('error' in events) {
    const failure = g.failureFromHandle(events.error, 'OUT_OF_MEMORY');
    events.error.dispose();
    g.broken = true;
    return { error: failure, logs: [] };
  }
  const deadline: SendDeadline = {
    mode: 'send',
    cpuMs: Math.min(input.limits.sendCpuMs, input.limits.sendWallMs),
    wallMs: input.limits.sendWallMs,
    startedAt: now(),
    othersAtStart: guestMsOfWorker(),
  };
  g.deadline = deadline;
  const args = [
    g.entryFn!,
    events,
    ctx.newString(input.secretsJson),
    ctx.newNumber(input.limits.outputBytes),
  ];
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = g.callHarness('send', args);
    for (const h of args.slice(1)) h.dispose();
    if ('error' in r) {
      const failure = g.failureFromHandle(r.error, 'USER_CODE_ERROR');
      r.error.dispose();
      g.broken = true;
      return { error: failure, logs: g.readLogs() };
    }
    const settled = g.guest(() => ctx.resolvePromise(r));
    r.dispose();
    const jobs = g.guest(() => runtime.executePendingJobs());
    if (jobs.error) {
      const failure = g.failureFromHandle(jobs.error, 'USER_CODE_ERROR');
      jobs.error.dispose();
      g.broken = true;
      return { error: failure, logs: g.readLogs() };
    }
    // Ends a promise that never settles. Time other calls' code held the thread is not this
    // call's: when the timer fires early by that measure, it waits for the rest.
    const timeout = new Promise<'timeout'>((resolve) => {
      const arm = () => {
        const left = deadline.wallMs - sendElapsed(g, deadline);
        if (left <= 0) resolve('timeout');
        else timer = setTimeout(arm, Math.ceil(left));
      };
      arm();
    });
    const faulted = new Promise<{ fault: SandboxFailure }>((resolve) => {
      g.sendFault = (fault) => resolve({ fault });
    });
    const outcome = await Promise.race([settled, timeout, faulted]);
    if (outcome !== 'timeout' && 'fault' in outcome) return { error: outcome.fault, logs: g.readLogs() };
    if (outcome === 'timeout') {
      g.broken = true;
      g.unclean = true;
      // A promise left pending is resolved by nothing now; the context is thrown away.
      settled.then((res) => {
        if (!g.gone && ctx.alive) {
          if (res.error) res.error.dispose();
          else res.value.dispose();
        }
      });
      return {
        error: { code: 'TIMEOUT', message: sendTimeoutMessage(g, deadline) },
        logs: g.readLogs(),
      };
    }
    if (outcome.error) {
      const failure = g.failureFromHandle(outcome.error, 'USER_CODE_ERROR');
      outcome.error.dispose();
      g.broken = true;
      if (failure.code === 'TIMEOUT') {
        failure.message = sendTimeoutMessage(g, deadline);
      }
      return { error: failure, logs: g.readLogs() };
    }
    const text = ctx.getString(outcome.value);
    outcome.value.dispose();
    const parsed = safeJsonParse(text) as { o?: unknown; e?: unknown };
    const logs = g.readLogs();
    if (parsed.e !== undefined) {
      g.broken = true;
      const failure = toFailure(parsed.e, g.filename);
      if (failure.code !== 'USER_CODE_ERROR' && failure.code !== 'INVALID_OUTPUT') g.unclean = true;
      if (failure.code === 'TIMEOUT') failure.message = sendTimeoutMessage(g, deadline);
      return { error: failure, logs };
    }
    return { value: parsed.o, logs };
  } finally {
    if (timer) clearTimeout(timer);
    g.deadline = { mode: 'none' };
    g.sendHost = undefined;
    g.sendFault = undefined;
    g.dropPending();
  }
}

/** Which of send()'s limits stopped it. */
function sendTimeoutMessage(g: GuestContext, d: SendDeadline): string {
  if (g.guestMsNow() >= d.cpuMs) {
    return `send() ran JavaScript for more than its CPU time limit of ${d.cpuMs} ms`;
  }
  return `send() did not finish within ${d.wallMs} ms`;
}
