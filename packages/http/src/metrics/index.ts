/**
 * Prometheus metrics of one engine, on prom-client: counters and histograms fed by the engine's
 * observations (`pipes.observe`), the backlog read from the store (cached), and the sandbox pool's
 * numbers read at scrape time. `createHandler(pipes, { metrics: {} })` serves them at `/metrics`;
 * docs/observability.md lists every metric, with PromQL, a Grafana dashboard and alert rules.
 *
 * Labels are the operator's names (source slug, pipe and destination names) and small fixed sets
 * (statuses, lowercase error codes, status classes): never ids of events, never anything a sender
 * chose, so the number of series stays bounded by the configuration.
 */
import type { EngineObserver, Pipes } from '@openpipes/core';
import { Gauge, Registry } from 'prom-client';
import { createBacklogReader } from './backlog.js';
import { collectMetrics, deliveryMetrics } from './counters.js';
import { countOutcomes } from './outcomes.js';
import { sandboxCollectors } from './sandbox.js';

/**
 * Options of {@link createMetrics} (and of `createHandler`'s `metrics`).
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * const registry = new Registry(); // your app's metrics and ours on one endpoint
 * createHandler(pipes, { metrics: { registry } });
 * ```
 */
export interface MetricsOptions {
  /**
   * The prom-client registry the metrics are registered in. Default: a registry of their own.
   * One registry holds the metrics of one engine (registering twice throws, naming the metric).
   */
  registry?: Registry;
  /**
   * How long the backlog counted in the store is reused, ms. Default 15 000; at least 10 000, so
   * that scrapes (of every process, every few seconds) never add up to a load on the database.
   */
  backlogCacheMs?: number;
}

/**
 * The metrics of one engine.
 *
 * @example
 * ```ts
 * const metrics = createMetrics(pipes);
 * const { contentType, body } = await metrics.render();
 * ```
 */
export interface PipesMetrics {
  readonly registry: Registry;
  /** The registry in the Prometheus text format (`contentType` names its version). */
  render(): Promise<{ contentType: string; body: string }>;
  /** Counts one answered collect request (the handler calls it). */
  collectAnswered(answer: { seconds: number; status: number; code: string | null }): void;
  /**
   * Counts messages refused before ingest, one by one, that ingest therefore never saw: Segment
   * messages that cannot be mapped to an event (reason `invalid_message`). The segment routes call it.
   */
  messagesRejected(rejection: { source: string; reason: 'invalid_message'; count: number }): void;
  /** Stops observing the engine (the metrics keep their values). */
  close(): void;
}

/** The gauges read at scrape time: the backlog (from the store, cached) and this process's breakers. */
function stateGauges(
  registers: Registry[],
  backlog: ReturnType<typeof createBacklogReader>,
  paused: Map<string, boolean>,
) {
  new Gauge({
    name: 'openpipes_backlog',
    help: 'Deliveries not final yet (pending, retrying, in flight), by destination name; read from the store, the same in every process.',
    labelNames: ['destination'],
    registers,
    async collect() {
      const counts = await backlog.read();
      this.reset();
      for (const [destination, count] of counts) this.set({ destination }, count);
    },
  });
  new Gauge({
    name: 'openpipes_destination_paused',
    help: "1 while this process's circuit breaker for the destination is open (paused), else 0.",
    labelNames: ['destination'],
    registers,
    collect() {
      this.reset();
      for (const name of backlog.names()) this.set({ destination: name }, 0);
      for (const [name, isPaused] of paused) this.set({ destination: name }, isPaused ? 1 : 0);
    },
  });
}

/**
 * Creates the metrics of `pipes` and starts observing it.
 *
 * @example
 * ```ts
 * import { createMetrics } from '@openpipes/http';
 * const metrics = createMetrics(pipes, { backlogCacheMs: 30_000 });
 * ```
 */
export function createMetrics(pipes: Pipes, options: MetricsOptions = {}): PipesMetrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];

  const { ingested, duplicates, rejected, refused, collectDuration } = collectMetrics(registers);
  const { deliveries, matchMeasured, matchIdentifiers, attempts, sendDuration, transformDuration } =
    deliveryMetrics(registers);

  const backlog = createBacklogReader(pipes, Math.max(10_000, options.backlogCacheMs ?? 15_000));
  const paused = new Map<string, boolean>();
  stateGauges(registers, backlog, paused);
  sandboxCollectors(pipes.sandbox, registers);

  const observer: EngineObserver = {
    ingested(o) {
      if (o.accepted > 0) ingested.inc({ source: o.source }, o.accepted);
      if (o.duplicates > 0) duplicates.inc({ source: o.source }, o.duplicates);
      for (const [reason, count] of Object.entries(o.rejected)) {
        if (count) rejected.inc({ source: o.source, reason }, count);
      }
    },
    transformed(o) {
      if (o.ok) transformDuration.observe({ pipe: o.pipe }, o.seconds);
    },
    sent(o) {
      sendDuration.observe({ destination: o.destination }, o.seconds);
    },
    recorded(o) {
      const { byAttempt, byFinal, measured, carried } = countOutcomes(o.outcomes);
      for (const [outcome, count] of byAttempt) attempts.inc({ destination: o.destination, outcome }, count);
      for (const { pipe, status, count } of byFinal.values()) {
        deliveries.inc({ pipe, destination: o.destination, status }, count);
      }
      for (const [pipe, count] of measured) matchMeasured.inc({ pipe }, count);
      for (const { pipe, identifier, stage, count } of carried.values()) {
        matchIdentifiers.inc({ pipe, identifier, stage }, count);
      }
    },
    breaker(o) {
      paused.set(o.destination, o.paused);
    },
  };
  const unobserve = pipes.observe(observer);

  return {
    registry,
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    collectAnswered({ seconds, status, code }) {
      collectDuration.observe({ status: `${Math.floor(status / 100)}xx` }, seconds);
      // A request refused as a whole (its events were not ingested one by one).
      if (status >= 400 && code) refused.inc({ code: code.toLowerCase() });
    },
    messagesRejected({ source, reason, count }) {
      if (count > 0) rejected.inc({ source, reason }, count);
    },
    close: unobserve,
  };
}
