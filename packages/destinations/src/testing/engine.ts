/**
 * A real engine for end-to-end template tests: SQLite in a temp directory, the QuickJS sandbox, the
 * dispatcher, and egress allowed only to the local platform stand-in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createPipes,
  type Delivery,
  type DestinationDefinition,
  type DestinationInput,
  type DispatcherOptions,
  type PipeInput,
  type Pipes,
  type RetryPolicy,
  silentLogger,
} from '@openpipes/core';
import {
  purchaseEvent,
  type RecordedTestRequest,
  startTestServer,
  type TestResponse,
  type TestServer,
  testSecretKey,
  waitFor,
} from '@openpipes/core/testing';
import { sqliteStore } from '@openpipes/store-sqlite';
import { afterAll, afterEach, beforeAll } from 'vitest';

export interface TestEngine {
  pipes: Pipes;
  close(): Promise<void>;
}

/** Starts an engine whose `send()` may reach only `allow` (the stand-in's `host:port`). */
export async function startEngine(allow: string[], dispatcher: DispatcherOptions = {}): Promise<TestEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-destinations-'));
  const pipes = createPipes({
    store: sqliteStore({ filename: join(dir, 'test.db') }),
    secretKey: testSecretKey,
    logger: silentLogger,
    sandbox: { workers: 1 },
    egressAllow: allow,
    dispatcher: { pollIntervalMs: 25, ...dispatcher },
  });
  await pipes.start();
  return {
    pipes,
    async close() {
      await pipes.stop({ graceMs: 2000 }).catch(() => {});
      await pipes.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface WireOptions {
  /** The pipe's transform; default the template's. `null` passes events through. */
  transform?: string | null;
  retry?: Partial<RetryPolicy>;
  /** Destination fields to override (concurrency, max_batch_size, ...). */
  destination?: Partial<Omit<DestinationInput, 'name' | 'send'>>;
  /** Secrets bound to the destination (the template's required ones and any extra). */
  secrets: Record<string, string>;
  /** The pipe's consent requirement (docs/consent.md); default none. */
  consent?: PipeInput['consent'];
}

/** How one test case wires its template beyond the defaults (see `platformBed().wireCase`). */
export interface CaseWiring {
  maxAttempts?: number;
  /** The pipe's transform; default the template's. `null` passes events through. */
  transform?: string | null | undefined;
}

/**
 * A purchase carrying the buyer's raw contact details instead of digests (the template normalises
 * and hashes them): `purchaseEvent` without `hashed_email`/`hashed_phone`, plus `fields`.
 */
export function rawContactPurchase(orderId: string, fields: Record<string, unknown>) {
  return purchaseEvent(orderId, { hashed_email: undefined, hashed_phone: undefined, ...fields });
}

/**
 * `event` as if it happened `days` days ago (its `event_time`, ISO 8601): for the platforms' age
 * limits, which a template checks before sending.
 */
export function daysOld<E extends object>(event: E, days: number): E & { event_time: string } {
  return { ...event, event_time: new Date(Date.now() - days * 86400_000).toISOString() };
}

/**
 * Source `web` (event types purchase, add_to_cart, lead), the secrets, the template's destination
 * and a pipe, all enabled.
 */
export async function wireTemplate(pipes: Pipes, definition: DestinationDefinition, options: WireOptions) {
  const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
  for (const name of ['purchase', 'add_to_cart', 'lead']) await pipes.eventTypes.create({ name });
  const secretIds: string[] = [];
  for (const [key, value] of Object.entries(options.secrets)) {
    secretIds.push((await pipes.secrets.create({ key, value })).id);
  }
  const destination = await pipes.destinations.create({
    ...definition.destination,
    secret_ids: secretIds,
    ...(options.retry ? { retry: { ...options.retry } } : {}),
    ...options.destination,
  });
  const pipe = await pipes.pipes.create({
    name: `web-to-${definition.destination.name}`,
    source_id: source.id,
    destination_id: destination.id,
    transform: options.transform === undefined ? definition.transform : options.transform,
    consent: options.consent ?? null,
  });
  await pipes.pipes.enable(pipe.id);
  await pipes.destinations.enable(destination.id);
  return { source, destination, pipe };
}

/**
 * One test file's platform stand-in (a server on 127.0.0.1 for the whole file) and the current
 * case's engine (closed after the case). Call it at the top level of the test file.
 */
export function platformBed() {
  let server: TestServer | undefined;
  let engine: TestEngine | undefined;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());
  afterEach(async () => {
    // Forget the engine before closing it: a close that outlives its hook's time-out must not
    // clear the next case's engine.
    const closing = engine;
    engine = undefined;
    await closing?.close();
  });
  const bed = {
    get server(): TestServer {
      if (!server) throw new Error('platformBed: the stand-in starts in beforeAll');
      return server;
    },
    /** Serves `platform` (forgetting earlier requests), starts an engine that may reach only it, wires the template. */
    async wire<P extends { handler: (request: RecordedTestRequest) => TestResponse }>(
      platform: P,
      definition: DestinationDefinition,
      options: WireOptions,
      dispatcher: DispatcherOptions = {},
    ) {
      bed.server.handle(platform.handler);
      bed.server.requests.length = 0;
      const started = await startEngine([bed.server.host], dispatcher);
      engine = started;
      const wired = await wireTemplate(started.pipes, definition, options);
      return { platform, pipes: started.pipes, ...wired };
    },
    /**
     * One case of a template's own tests: `wire` with `secrets`, `maxAttempts` tries 10-50 ms apart
     * (default 1), and `transform` for the pipe when given (`null` passes events through).
     */
    wireCase<P extends { handler: (request: RecordedTestRequest) => TestResponse }>(
      platform: P,
      definition: DestinationDefinition,
      secrets: Record<string, string>,
      { maxAttempts = 1, transform }: CaseWiring = {},
    ) {
      return bed.wire(platform, definition, {
        secrets,
        retry: { max_attempts: maxAttempts, initial_delay_ms: 10, max_delay_ms: 50 },
        ...(transform === undefined ? {} : { transform }),
      });
    },
  };
  return bed;
}

const finalStatuses = new Set(['delivered', 'filtered', 'failed', 'dead']);

/** Every delivery of a pipe (all pages). */
export async function allDeliveries(pipes: Pipes, pipeId: string): Promise<Delivery[]> {
  const out: Delivery[] = [];
  let cursor: string | undefined;
  do {
    const page = await pipes.deliveries.list(pipeId, { limit: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

/** Waits for deliveries matching `check` (for non-final statuses such as `retrying`). */
export async function recordsWhere(
  pipes: Pipes,
  pipeId: string,
  check: (deliveries: Delivery[]) => boolean,
  timeoutMs = 30_000,
): Promise<Delivery[]> {
  return waitFor(
    async () => {
      const all = await allDeliveries(pipes, pipeId);
      return check(all) ? all : null;
    },
    timeoutMs,
    'deliveries',
  );
}

/**
 * Waits until `count` deliveries are final (delivered, filtered, failed, dead). With `full`, returns
 * them as `deliveries.get` shows them (attempts included); large batches skip that.
 */
export async function finalRecords(pipes: Pipes, pipeId: string, count: number, full = count <= 50) {
  const list = await recordsWhere(
    pipes,
    pipeId,
    (all) => all.filter((d) => finalStatuses.has(d.status)).length >= count,
    60_000,
  );
  return full ? Promise.all(list.map((d) => pipes.deliveries.get(d.id))) : list;
}

/** Fails the test when any of `values` appears anywhere in `records`. */
export function secretsIn(records: unknown, values: string[]): string[] {
  const text = JSON.stringify(records);
  return values.filter((value) => text.includes(value));
}

/** Deliveries by the sender's event id. */
export function byEventId(records: Delivery[]): Map<string, Delivery> {
  return new Map(records.map((d) => [d.event_id, d]));
}

/** Waits until `count` deliveries of the pipe are final ({@link finalRecords}), by event id. */
export async function finalRecordsById(
  pipes: Pipes,
  pipeId: string,
  count: number,
): Promise<Map<string, Delivery>> {
  return byEventId(await finalRecords(pipes, pipeId, count));
}
