/**
 * The engine's public shape: what `createPipes()` takes (`PipesOptions`) and what it returns
 * (`Pipes`, `PipesStatus`). The wiring is in engine.ts.
 */
import type { Sandbox } from '@openpipes/sandbox';
import type { AlertsApi, AlertsOptions } from './alerts/index.js';
import type { AuditApi } from './audit.js';
import type { CollectCredentials } from './collect-auth.js';
import type { ConfigTransferApi } from './config-transfer/index.js';
import type { ProfilesResolver } from './deliver.js';
import type { DeliveriesApi } from './deliveries.js';
import type { BreakerState, DispatcherOptions } from './dispatch/dispatcher.js';
import type { EngineEventMap, EngineEventName } from './events.js';
import type { ProfilesApi } from './identity/api.js';
import type { ErasureApi } from './identity/erasure.js';
import type { IdentityOptions } from './identity/stitch.js';
import type { IngestResult } from './ingest.js';
import type { Logger } from './logger.js';
import type { EngineObserver } from './observer.js';
import type { ReconciliationApi } from './reconciliation.js';
import type { ApiKeysApi } from './registries/api-keys.js';
import type { DestinationsRegistry } from './registries/destinations.js';
import type { EventTypesRegistry } from './registries/event-types.js';
import type { PipesRegistry } from './registries/pipes.js';
import type { SecretsRegistry } from './registries/secrets.js';
import type { SourcesRegistry } from './registries/sources.js';
import type { WriteKeysApi } from './registries/write-keys.js';
import type { RejectionLogOptions } from './rejections.js';
import type { PruneResult, RetentionOptions } from './retention.js';
import type { SandboxOptions } from './sandbox/index.js';
import type { IncomingEvent, Source } from './schemas.js';
import type { SendTestApi } from './send-test.js';
import type { RejectionError, Store } from './store.js';
import type { HeaderGetter, TracingOptions } from './tracing/index.js';
import type { TransformTestApi } from './transform-test.js';

export type Role = 'ingest' | 'dispatch';

export interface PipesOptions {
  /** Where everything is kept: `sqliteStore({ filename })` or `postgresStore({ pool })`. `stop()` leaves it open. */
  store: Store;
  /** Encrypts secret values at rest (AES-256-GCM). At least 16 characters; keep it out of the database. */
  secretKey: string;
  /**
   * Identity (docs/identifiers.md): link the identifiers events carry into profiles and give each
   * transform call `profiles[event_id]`. `true` for the defaults, or options. Default off
   * (`openpipes serve` turns it on). Profiles hold personal data: they have their own retention.
   */
  identity?: boolean | IdentityOptions;
  /**
   * Supplies the `profiles` argument of transforms yourself. With `identity` on it receives the
   * built-in profiles as `builtIn` and what it returns is used: return them extended, or replace them.
   * Default: the built-in profiles, or `{}` when identity is off. Delivery does not call it for a
   * transform the sandbox found never reads `profiles` (after that code's first batch; docs/sandbox.md,
   * "What a transform reads"); send tests and previews always do.
   */
  profiles?: ProfilesResolver;
  /** A sandbox to share, or options for the one the engine creates (and closes on `stop()`). */
  sandbox?: Sandbox | SandboxOptions;
  /**
   * Hosts or ranges `send()` may reach although the egress guard refuses them (internal
   * destinations, local stand-ins): `host`, `host:port` or CIDR. Merged into the sandbox options.
   */
  egressAllow?: string[];
  /**
   * Whether the engine migrates the store's schema itself, on `start()` or its first API call.
   * Default `true`. With `false`, nothing changes the schema unless you call `pipes.migrate()` (or
   * another process does), and until the schema is current every call
   * fails with `MIGRATION_REQUIRED`: for deployments that migrate in a release step.
   */
  autoMigrate?: boolean;
  /** What this process does. Default both. Many processes can share one PostgreSQL store. */
  roles?: Role[];
  dispatcher?: DispatcherOptions;
  /**
   * Called after a commit that made deliveries due (events accepted, deliveries re-queued) with
   * their destination ids, whatever the roles: for a dispatcher this engine does not run itself (on
   * a worker thread, say) that should wake at once. A store with `subscribe()` (PostgreSQL) already
   * announces the same to every dispatcher. It must be cheap and must not throw (a throw is dropped).
   */
  onDeliveriesDue?: (destinationIds: string[]) => void;
  /**
   * Called after every configuration write through this engine (sources, event types, pipes,
   * destinations, secrets, keys), once the store holds it: for a dispatcher this engine does not
   * run itself (on a worker thread, say), whose configuration cache should not wait out its
   * staleness allowance: have that engine's `configChanged()` called. Cheap, must not throw (a
   * throw is dropped).
   */
  onConfigChanged?: () => void;
  /** How long events and delivery records are kept (default 30 days), pruned in the background. */
  retention?: RetentionOptions;
  /** The per-source log of events refused at collect (bounded; pruned with the events). */
  rejections?: RejectionLogOptions;
  /**
   * pino, winston, `console`, or your own with pino's signature `(fields, message)` (see
   * {@link Logger}). Default: warnings and errors as JSON lines on stderr.
   */
  logger?: Logger;
  /**
   * Where this instance's admin API is reachable from outside (`https://pipes.example.com`). Alerts
   * then link their example delivery record: `${publicBaseUrl}/api/event-deliveries/<id>`.
   */
  publicBaseUrl?: string;
  /** Sending alerts: timeout, queue size, flush interval. Channels are configured with `pipes.alerts.channels`. */
  alerts?: AlertsOptions;
  /** The engine's clock (ms since epoch). Tests may pass their own. */
  clock?: () => number;
  /**
   * OpenTelemetry traces (docs/observability.md): by default through the global tracer provider,
   * a no-op until the host installs an SDK; `{ tracerProvider }` to use another; `false` for none.
   */
  tracing?: TracingOptions | false;
}

/** Engine status: what runs, the buffer, the breakers. */
export interface PipesStatus {
  running: boolean;
  /** True while the store's migrations run (readiness probes answer "not ready"). */
  migrating: boolean;
  /** True once `stop()` was called: the engine is draining or stopped. */
  stopping: boolean;
  roles: Role[];
  owner: string;
  breakers: Record<string, BreakerState>;
}

/**
 * The engine.
 *
 * @example
 * ```ts
 * import { createPipes } from '@openpipes/core';
 * import { sqliteStore } from '@openpipes/store-sqlite';
 *
 * const pipes = createPipes({ store: sqliteStore({ filename: './openpipes.db' }), secretKey: process.env.OPENPIPES_SECRET_KEY! });
 * await pipes.start();
 * await pipes.ingest('web', { event_type: 'purchase', event_time: new Date().toISOString(), event_payload: { order_id: 'ord_1' } });
 * ```
 */
export interface Pipes {
  readonly sources: SourcesRegistry;
  readonly eventTypes: EventTypesRegistry;
  readonly secrets: SecretsRegistry;
  readonly destinations: DestinationsRegistry;
  readonly pipes: PipesRegistry;
  readonly deliveries: DeliveriesApi;
  /** Test runs of a pipe's transform in the sandbox: nothing delivered, outputs redacted. */
  readonly transforms: TransformTestApi;
  /**
   * A destination's `send()` outside delivery: a dry run (every fetch recorded and answered with a
   * synthetic 200, no connection opened) or a test send in the platform's test mode; redacted.
   */
  readonly sendTests: SendTestApi;
  /**
   * For an event type and a period: events collected, and per destination (through its pipes)
   * delivered, filtered by reason, failed and pending. From an indexed query, not the history.
   */
  readonly reconciliation: ReconciliationApi;
  /** Admin API keys: create (token shown once), list, get, revoke, verify. */
  readonly apiKeys: ApiKeysApi;
  /** Sources' write keys for Segment-spec clients: create (shown once), list (prefixes), revoke, verify. */
  readonly writeKeys: WriteKeysApi;
  /** The audit trail of every change: who, what, before and after, when, which request. */
  readonly audit: AuditApi;
  /**
   * Identity profiles (docs/identifiers.md): search by any identifier, read one as stored; erase a
   * person and export a profile's data (docs/erasure.md).
   */
  readonly profiles: ProfilesApi & ErasureApi;
  /** Failure alerts to Slack, Teams or a generic webhook. */
  readonly alerts: AlertsApi;
  /**
   * Export the configuration as one document and import it elsewhere (staging → production):
   * matched by slug, name and key; secret names travel, values never do; imports are idempotent.
   */
  readonly config: ConfigTransferApi;
  /** The store this engine runs on. */
  readonly store: Store;
  /** The sandbox user code runs in. */
  readonly sandbox: Sandbox;
  /**
   * Validates and stores events for the source with this slug. Resolves once the accepted events
   * and their pending deliveries are durable. Throws `UNKNOWN_SOURCE` / `SOURCE_DISABLED`; invalid
   * events are reported per event and do not stop their valid siblings.
   *
   * The type says what a valid event looks like; every event is still checked at run time (against
   * the schema and its event type), so input that crossed a trust boundary (a parsed request body)
   * may be passed as it is: what is wrong with it comes back as a `rejected` result, never stored.
   */
  ingest(sourceSlug: string, events: IncomingEvent | readonly IncomingEvent[]): Promise<IngestResult>;
  /**
   * Checks a collect request's credentials against its source's `auth` (none, bearer token, or HMAC
   * signature with a timestamp). Resolves with the source; throws `UNKNOWN_SOURCE`,
   * `SOURCE_DISABLED` or `UNAUTHORIZED`. Replayed HMAC signatures are refused per process.
   */
  authenticateCollect(credentials: CollectCredentials): Promise<Source>;
  /**
   * Migrates the store (unless `autoMigrate: false`: then it checks the schema is current) and
   * starts dispatching (when this process has the `dispatch` role).
   */
  start(): Promise<void>;
  /**
   * Applies the store's pending migrations now. Idempotent, and safe while other processes do the
   * same. Needed only with `autoMigrate: false`; otherwise the first call migrates.
   *
   * @example
   * ```ts
   * const pipes = createPipes({ store, secretKey, autoMigrate: false });
   * await pipes.migrate(); // in the release step, or before start()
   * ```
   */
  migrate(): Promise<void>;
  /**
   * Stops claiming new work, lets in-flight deliveries finish and be recorded (up to `graceMs`,
   * default 30 s), then closes the sandbox if the engine made it. The store stays open: you made
   * it, you close it (`await store.close()` after `stop()`), so it can outlive the engine or be
   * shared with another one.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
  /**
   * Tells this engine that another process or thread changed the configuration (sources, event
   * types, pipes, destinations, secrets): it reads the configuration again at its next use instead
   * of trusting its cache for up to 250 ms, reads the retired secret values again before the next
   * redactor, and (with the `dispatch` role) starts lanes for destinations enabled meanwhile at once
   * instead of at the next poll. The receiving end of another engine's `onConfigChanged`; writes
   * made through this engine need no call. Cheap, never throws, a no-op once stopped.
   *
   * @example
   * ```ts
   * // On the dispatching side of a MessagePort whose other end posts from `onConfigChanged`:
   * port.on('message', (message) => { if (message.type === 'config') pipes.configChanged(); });
   * ```
   */
  configChanged(): void;
  /**
   * Adds an observer of the engine's work (what metrics count); returns the function that removes
   * it. `createHandler(pipes, { metrics: {} })` adds one for `GET /metrics`.
   */
  observe(observer: EngineObserver): () => void;
  /**
   * Runs one collect request in its server span (`POST /collect/{slug}`), child of the request's
   * `traceparent` or of the host's own span; the HTTP handler calls it. `statusOf` maps the
   * result to the answer's status.
   */
  traceCollect<T>(
    input: { slug: string; header: HeaderGetter; statusOf: (result: T) => number },
    fn: () => Promise<T>,
  ): Promise<T>;
  /**
   * Keeps a collect request refused as a whole after its source authenticated it (a body that is
   * not JSON, no events, too many) in the source's rejection log, with the body's text cut to the
   * log's size limit. The HTTP handler calls it; never throws (a failed write is logged).
   */
  logRejectedRequest(input: { sourceId: string; error: RejectionError; text: string }): Promise<void>;
  /**
   * Keeps the refused messages of one request (Segment messages that map to no event) in the
   * source's rejection log with one write, however many there are: a hostile sender's batch of a
   * thousand `null`s costs one insert, not a thousand. Never throws (a failed write is logged).
   *
   * @example
   * ```ts
   * await pipes.logRejectedMessages({ sourceId, rejected: [{ error, text: '{"type":"launch"}' }] });
   * ```
   */
  logRejectedMessages(input: {
    sourceId: string;
    rejected: ReadonlyArray<{ error: RejectionError; text: string }>;
  }): Promise<void>;
  /**
   * Links the identifiers of messages that are not events (a Segment `identify`, `alias` or `group`:
   * anonymous id, user id, email, phone) into identity profiles, as ingest links those of each event.
   * Nothing is stored as an event or delivered. Resolves `false` when identity is off.
   */
  linkIdentifiers(
    items: Array<{ event_time: string; event_payload: Record<string, unknown> }>,
  ): Promise<boolean>;
  /** Subscribes to engine events; returns the unsubscribe function. */
  on<K extends EngineEventName>(event: K, listener: (payload: EngineEventMap[K]) => void): () => void;
  status(): PipesStatus;
  /**
   * Resolves when nothing is in flight: no delivery batch being claimed, sent or recorded, and no
   * alert waiting to be evaluated or sent. Retries due later are not waited for. Tests await this
   * instead of sleeping to show that nothing more happened.
   */
  idle(): Promise<void>;
  /**
   * Prunes events and deliveries older than the retention period now, and destroys secret values
   * retired longer ago than that (it also runs in the background).
   */
  prune(): Promise<PruneResult>;
}
