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
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { createBacklogReader } from './backlog.js';
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

const sendBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const transformBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
const requestBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** Statuses no further attempt follows (what `openpipes_deliveries_total` counts). */
const finalStatuses = new Set(['delivered', 'filtered', 'failed', 'dead']);

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

  const ingested = new Counter({
    name: 'openpipes_events_ingested_total',
    help: 'Events accepted and stored, by source slug.',
    labelNames: ['source'],
    registers,
  });
  const duplicates = new Counter({
    name: 'openpipes_events_duplicate_total',
    help: 'Events dropped as duplicates of one received within the dedup window, by source slug.',
    labelNames: ['source'],
    registers,
  });
  const rejected = new Counter({
    name: 'openpipes_events_rejected_total',
    help: 'Events refused one by one, by source slug and reason: at ingest (validation_failed, unknown_event_type), or Segment messages that map to no event (invalid_message).',
    labelNames: ['source', 'reason'],
    registers,
  });
  const refused = new Counter({
    name: 'openpipes_collect_refused_total',
    help: 'Collect requests refused as a whole before their events were read, by lowercase error code.',
    labelNames: ['code'],
    registers,
  });
  const collectDuration = new Histogram({
    name: 'openpipes_collect_request_duration_seconds',
    help: 'Time to answer POST /collect/{slug}, by status class (2xx, 4xx, 5xx).',
    labelNames: ['status'],
    buckets: requestBuckets,
    registers,
  });
  const deliveries = new Counter({
    name: 'openpipes_deliveries_total',
    help: 'Deliveries that reached a final status (delivered, filtered, failed, dead), by pipe and destination name.',
    labelNames: ['pipe', 'destination', 'status'],
    registers,
  });
  // Match quality: pipe names are configuration and identifiers a closed list (core's
  // MATCH_IDENTIFIERS, checked when a destination is saved), so the label sets stay bounded.
  const matchMeasured = new Counter({
    name: 'openpipes_match_measured_events_total',
    help: 'Delivered events whose destination declares its identifiers (the denominator of match quality), by pipe name.',
    labelNames: ['pipe'],
    registers,
  });
  const matchIdentifiers = new Counter({
    name: 'openpipes_match_identifier_events_total',
    help: 'Delivered events that carried an identifier, by pipe name, identifier and stage (raw: on the incoming event; stitched: in the request that left).',
    labelNames: ['pipe', 'identifier', 'stage'],
    registers,
  });
  const attempts = new Counter({
    name: 'openpipes_delivery_attempts_total',
    help: 'Delivery attempts, by destination name and outcome (delivered, retrying, failed, dead).',
    labelNames: ['destination', 'outcome'],
    registers,
  });
  const sendDuration = new Histogram({
    name: 'openpipes_send_duration_seconds',
    help: "Duration of send() calls (the destination's network round trips included), by destination name.",
    labelNames: ['destination'],
    buckets: sendBuckets,
    registers,
  });
  const transformDuration = new Histogram({
    name: 'openpipes_transform_duration_seconds',
    help: 'Duration of transform calls in the sandbox (CPU-bound: their sum is the CPU time of transforms), by pipe name.',
    labelNames: ['pipe'],
    buckets: transformBuckets,
    registers,
  });

  const backlog = createBacklogReader(pipes, Math.max(10_000, options.backlogCacheMs ?? 15_000));
  const paused = new Map<string, boolean>();
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
      // A batch holds up to thousands of outcomes of a few kinds: count them first, then add each
      // kind once (prom-client hashes the labels of every call).
      const byAttempt = new Map<string, number>();
      const byFinal = new Map<string, { pipe: string; status: string; count: number }>();
      const measured = new Map<string, number>();
      const carried = new Map<string, { pipe: string; identifier: string; stage: string; count: number }>();
      for (const { pipe, status, attempted, match } of o.outcomes) {
        if (attempted) byAttempt.set(status, (byAttempt.get(status) ?? 0) + 1);
        if (match) {
          measured.set(pipe, (measured.get(pipe) ?? 0) + 1);
          for (const [stage, identifiers] of [
            ['raw', match.raw],
            ['stitched', match.stitched],
          ] as const) {
            for (const identifier of identifiers) {
              const key = `${pipe}\u0000${identifier}\u0000${stage}`;
              const entry = carried.get(key);
              if (entry) entry.count++;
              else carried.set(key, { pipe, identifier, stage, count: 1 });
            }
          }
        }
        if (!finalStatuses.has(status)) continue;
        const key = `${pipe}\u0000${status}`;
        const entry = byFinal.get(key);
        if (entry) entry.count++;
        else byFinal.set(key, { pipe, status, count: 1 });
      }
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
