/**
 * `openpipes_sandbox_*`: the pool's numbers, read from `sandbox.stats()` at scrape time (a sandbox
 * of your own without `stats()` exports none). One read serves every metric of a scrape.
 */
import type { Sandbox, SandboxStats } from '@openpipes/core';
import { Counter, Gauge, type Registry } from 'prom-client';

const statsTimeoutMs = 2000;

export function sandboxCollectors(sandbox: Sandbox, registers: Registry[]): void {
  const withStats = sandbox as Sandbox & { stats?: () => Promise<SandboxStats> };
  if (typeof withStats.stats !== 'function') return;
  let last: { at: number; stats: Promise<SandboxStats | null> } | null = null;
  // Workers answer between calls; a pool busy with long calls must not hold the scrape up.
  const stats = () => {
    if (!last || Date.now() - last.at > 1000) {
      let timer: NodeJS.Timeout | undefined;
      const read = Promise.race([
        withStats.stats!().catch(() => null),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), statsTimeoutMs);
          timer.unref();
        }),
      ]).finally(() => clearTimeout(timer));
      last = { at: Date.now(), stats: read };
    }
    return last.stats;
  };
  const sum = (s: SandboxStats, pick: (w: SandboxStats['perWorker'][number]) => number) =>
    s.perWorker.reduce((total, w) => total + pick(w), 0);

  const gauge = (name: string, help: string, value: (s: SandboxStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const s = await stats();
        if (s) this.set(value(s));
      },
    });
  const counter = (name: string, help: string, value: (s: SandboxStats) => number) =>
    new Counter({
      name,
      help,
      registers,
      async collect() {
        const s = await stats();
        if (!s) return;
        // The pool keeps the running totals; a replaced worker starts again from 0, which
        // Prometheus reads as a counter reset.
        this.reset();
        this.inc(Math.max(0, value(s)));
      },
    });

  gauge('openpipes_sandbox_workers', 'Worker threads in the sandbox pool.', (s) => s.workers);
  gauge('openpipes_sandbox_warm_contexts', 'QuickJS contexts kept warm across the pool.', (s) =>
    sum(s, (w) => w.warmContexts),
  );
  gauge('openpipes_sandbox_heap_bytes', 'Bytes of QuickJS heap in use across the pool.', (s) =>
    sum(s, (w) => w.heapBytes),
  );
  counter(
    'openpipes_sandbox_worker_restarts_total',
    'Sandbox workers replaced after a crash or a hang.',
    (s) => s.workerRestarts,
  );
  counter('openpipes_sandbox_contexts_created_total', 'QuickJS contexts created.', (s) =>
    sum(s, (w) => w.contextsCreated),
  );
  counter(
    'openpipes_sandbox_contexts_recycled_total',
    'QuickJS contexts disposed of (used up, grown too large, failed, or their secrets rotated).',
    (s) => sum(s, (w) => w.contextsCreated - w.warmContexts),
  );
}
