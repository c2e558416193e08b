/**
 * The counters and histograms the engine's observations feed, registered in `registers` in the
 * order `/metrics` lists them. docs/observability.md describes each.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

const sendBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const transformBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
const requestBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** Collect: events ingested, duplicate and refused one by one; requests refused whole; answer times. */
export function collectMetrics(registers: Registry[]) {
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
  return { ingested, duplicates, rejected, refused, collectDuration };
}

/** Delivery: final statuses, match quality, attempts, send() and transform durations. */
export function deliveryMetrics(registers: Registry[]) {
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
  return { deliveries, matchMeasured, matchIdentifiers, attempts, sendDuration, transformDuration };
}
