/**
 * `createPipes()`: the engine. It wires the registries, ingest, the dispatcher and the sandbox onto
 * one store. Embed it in your Node backend, or run it through `openpipes serve`.
 */

import type { Sandbox } from '@openpipes/sandbox';
import { type Alerts, type AlertsApi, type AlertsOptions, createAlerts } from './alerts/index.js';
import { type AuditApi, createAuditApi } from './audit.js';
import { type CollectCredentials, createCollectAuthenticator } from './collect-auth.js';
import { createConfigCache } from './config.js';
import { type ConfigTransferApi, createConfigTransfer } from './config-transfer/index.js';
import type { ProfilesResolver } from './deliver.js';
import { createDeliveriesApi, type DeliveriesApi } from './deliveries.js';
import { type BreakerState, createDispatcher, type DispatcherOptions } from './dispatch/dispatcher.js';
import { PipesError } from './errors.js';
import { createEngineEvents, type EngineEventMap, type EngineEventName } from './events.js';
import { createProfilesApi, type ProfilesApi } from './identity/api.js';
import { createIdentity, type Identity, type IdentityOptions } from './identity/stitch.js';
import { newId } from './ids.js';
import { createIngest, type IngestResult } from './ingest.js';
import { adaptLogger, createDefaultLogger, type Logger } from './logger.js';
import { createObservers, type EngineObserver } from './observer.js';
import { type ApiKeysApi, createApiKeysApi } from './registries/api-keys.js';
import { createDestinationsRegistry, type DestinationsRegistry } from './registries/destinations.js';
import { createEventTypesRegistry, type EventTypesRegistry } from './registries/event-types.js';
import { createPipesRegistry, type PipesRegistry } from './registries/pipes.js';
import type { RegistryDeps } from './registries/registry.js';
import { createSecretsRegistry, type SecretsRegistry } from './registries/secrets.js';
import { createSourcesRegistry, type SourcesRegistry } from './registries/sources.js';
import { createRetention, type PruneResult, type RetentionOptions } from './retention.js';
import { createSandbox, type SandboxOptions } from './sandbox/index.js';
import type { IncomingEvent, Source } from './schemas.js';
import { createRedactionSource } from './secrets/redaction.js';
import { createVault } from './secrets/vault.js';
import type { Store } from './store.js';
import { collectSpan, engineTracer, type HeaderGetter, type TracingOptions } from './tracing/index.js';
import { createTransformTestApi, type TransformTestApi } from './transform-test.js';
import { createSchemaCompiler } from './validation.js';

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
   * Default: the built-in profiles, or `{}` when identity is off.
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
  /** How long events and delivery records are kept (default 30 days), pruned in the background. */
  retention?: RetentionOptions;
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
  /** Admin API keys: create (token shown once), list, get, revoke, verify. */
  readonly apiKeys: ApiKeysApi;
  /** The audit trail of every change: who, what, before and after, when, which request. */
  readonly audit: AuditApi;
  /** Identity profiles (docs/identifiers.md): search by any identifier, read one as stored. */
  readonly profiles: ProfilesApi;
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

export function createPipes(options: PipesOptions): Pipes {
  const { store } = options;
  const now = options.clock ?? Date.now;
  const logger = adaptLogger(options.logger ?? createDefaultLogger());
  const roles: Role[] = options.roles ?? ['ingest', 'dispatch'];
  const vault = createVault(options.secretKey);

  const ownsSandbox = !isSandbox(options.sandbox);
  const egressAllow = [
    ...(isSandbox(options.sandbox) ? [] : (options.sandbox?.egress?.allow ?? [])),
    ...(options.egressAllow ?? []),
  ];
  const sandbox: Sandbox = isSandbox(options.sandbox)
    ? options.sandbox
    : createSandbox({
        // The sandbox reports its own machinery (a worker replaced, a spare started, code past its
        // limit) to the engine's logger, unless its options name another.
        logger,
        ...options.sandbox,
        egress: { ...options.sandbox?.egress, allow: egressAllow },
      });

  const compileSchema = createSchemaCompiler();
  const config = createConfigCache(store, compileSchema, { now });
  const events = createEngineEvents((err) =>
    logger.error('an engine event listener threw', { error: String(err) }),
  );
  const tracer = engineTracer(options.tracing);
  const observers = createObservers();
  const { observer } = observers;
  events.on('destination-paused', (e) => observer.breaker({ destination: e.destination, paused: true }));
  events.on('destination-resumed', (e) => observer.breaker({ destination: e.destination, paused: false }));

  // Every public operation waits for the schema to exist; `start()` is only needed to dispatch.
  // Without autoMigrate it only checks (and checks again next time while the schema is behind).
  const autoMigrate = options.autoMigrate ?? true;
  let migrated: Promise<void> | null = null;
  let migrating = false;
  const ready = () => {
    if (!migrated) {
      migrating = autoMigrate;
      migrated = (autoMigrate ? store.migrate() : ensureMigrated(store)).then(
        () => {
          migrating = false;
        },
        (err) => {
          migrating = false;
          migrated = null;
          throw err;
        },
      );
    }
    return migrated;
  };
  let stopped = false;
  const guard = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => {
    return async (...args: A): Promise<R> => {
      if (stopped) throw new PipesError({ code: 'ENGINE_STOPPED', message: 'this engine has been stopped' });
      await ready();
      return fn(...args);
    };
  };

  let dispatcherNotify: (ids: string[]) => void = () => {};
  const registryDeps: RegistryDeps = { store, now, onChange: () => config.invalidate() };
  const sources = createSourcesRegistry(registryDeps);
  const eventTypes = createEventTypesRegistry(registryDeps, compileSchema);
  // Redactors include every retired value; a rotation retires the sandbox contexts that saw the old
  // value before `updateValue` resolves (docs/security.md, "Rotation").
  const redaction = createRedactionSource({ store, vault, now, onError: (m, d) => logger.warn(m, d) });
  const { registry: secrets, resolve: resolveSecrets } = createSecretsRegistry(registryDeps, vault, {
    async onValuesRetired({ secretId, values }) {
      redaction.invalidate();
      try {
        await sandbox.retire?.({ values });
      } catch (err) {
        // Those contexts are never called again anyway (they are kept under the values they saw).
        logger.warn('could not retire sandbox contexts after a secret value changed', {
          secret_id: secretId,
          error: String(err),
        });
      }
    },
  });
  const destinations = createDestinationsRegistry(registryDeps, sandbox);
  const pipesRegistry = createPipesRegistry(registryDeps, sandbox);
  const identity: Identity | null = options.identity
    ? createIdentity({
        store,
        options: options.identity === true ? {} : options.identity,
        now,
        newId: () => newId('profile', now()),
      })
    : null;
  const profiles = profilesFor(identity, options.profiles);
  const identityOptions = typeof options.identity === 'object' ? options.identity : {};
  const profilesApi = createProfilesApi({
    store,
    now,
    ...(identityOptions.defaultCountry ? { defaultCountry: identityOptions.defaultCountry } : {}),
  });
  const deliveries = createDeliveriesApi({
    store,
    config,
    pipes: pipesRegistry,
    sandbox,
    resolveSecrets,
    redactorFor: redaction.redactorFor,
    now,
    profiles,
    onRequeued: (ids) => dispatcherNotify(ids),
  });
  const transforms = createTransformTestApi({
    store,
    config,
    pipes: pipesRegistry,
    sandbox,
    resolveSecrets,
    redactorFor: redaction.redactorFor,
    profiles,
  });
  const ingest = createIngest({
    store,
    config,
    now,
    observer,
    onDeliveriesCreated: (ids) => dispatcherNotify(ids),
    onAccepted: (sourceId, perType) => alerts.onAccepted(sourceId, perType),
    tracer,
    ...(identity
      ? {
          // A failed link loses no event (it is stored): delivery still stitches the event's own
          // identifiers, and the next event from the same person links again.
          onStored: (accepted: Parameters<Identity['link']>[0]) =>
            identity
              .link(accepted)
              .catch((err) => logger.warn('could not link identifiers', { error: String(err) })),
        }
      : {}),
  });
  const authenticateCollect = createCollectAuthenticator({ config, resolveSecrets, now });

  const dispatcher = createDispatcher({
    store,
    config,
    sandbox,
    resolveSecrets,
    getPipeVersion: (id, version) => pipesRegistry.getVersion(id, version),
    redactorFor: redaction.redactorFor,
    events,
    observer,
    tracer,
    logger,
    now,
    profiles,
    options: options.dispatcher ?? {},
  });

  const retention = createRetention({
    store,
    now,
    logger,
    options: options.retention ?? {},
    ...(identity ? { identity } : {}),
  });

  const apiKeys = createApiKeysApi(registryDeps);
  const audit = createAuditApi({ store });
  const alerts: Alerts = createAlerts({
    registry: registryDeps,
    store,
    config,
    secrets,
    resolveSecrets,
    redactorFor: redaction.redactorFor,
    events,
    logger,
    now,
    publicBaseUrl: options.publicBaseUrl ?? null,
    egressAllow,
    options: options.alerts ?? {},
  });
  // A secret an alert channel posts to may not be deleted from under it.
  const secretsApi: SecretsRegistry = {
    ...secrets,
    async delete(id, context) {
      await alerts.ensureSecretUnused(id);
      return secrets.delete(id, context);
    },
  };

  const configTransfer = createConfigTransfer({
    sources,
    eventTypes,
    secrets: secretsApi,
    destinations,
    pipes: pipesRegistry,
    channels: alerts.api.channels,
    sandbox,
    compileSchema,
    now,
  });

  let running = false;
  let unsubscribe: (() => Promise<void>) | null = null;

  return {
    sources: guardAll(sources, guard),
    eventTypes: guardAll(eventTypes, guard),
    secrets: guardAll(secretsApi, guard),
    destinations: guardAll(destinations, guard),
    pipes: guardAll(pipesRegistry, guard),
    deliveries: guardAll(deliveries, guard),
    transforms: guardAll(transforms, guard),
    apiKeys: guardAll(apiKeys, guard),
    audit: guardAll(audit, guard),
    profiles: guardAll(profilesApi, guard),
    alerts: { channels: guardAll(alerts.api.channels, guard) },
    config: guardAll(configTransfer, guard),
    store,
    sandbox,
    ingest: guard(ingest),
    authenticateCollect: guard(authenticateCollect),
    on: events.on,
    observe: observers.add,
    traceCollect: (input, fn) => collectSpan(tracer, input, fn),

    async start() {
      if (stopped) throw new PipesError({ code: 'ENGINE_STOPPED', message: 'this engine has been stopped' });
      if (running) return;
      await ready();
      running = true;
      alerts.start();
      if (roles.includes('dispatch')) {
        dispatcherNotify = (ids) => dispatcher.notify(ids);
        dispatcher.start();
        if (store.subscribe) unsubscribe = await store.subscribe((ids) => dispatcher.notify(ids));
        retention.start();
      }
    },

    async stop(stopOptions = {}) {
      if (stopped) return;
      stopped = true;
      running = false;
      const graceMs = stopOptions.graceMs ?? 30_000;
      await Promise.all([dispatcher.stop(graceMs), retention.stop()]);
      // Alerts about the last batches still go out, but a dead channel never holds up a stop for long.
      await alerts
        .stop(Math.min(graceMs, 5000))
        .catch((err) => logger.warn('stopping alerts failed', { error: String(err) }));
      if (unsubscribe) await unsubscribe().catch(() => {});
      // The sandbox is closed only when the engine made it; the store never is (the caller made it).
      if (ownsSandbox) await sandbox.close();
    },

    prune: guard(() => retention.runOnce()),

    async migrate() {
      if (stopped) throw new PipesError({ code: 'ENGINE_STOPPED', message: 'this engine has been stopped' });
      migrating = true;
      try {
        await store.migrate();
      } finally {
        migrating = false;
      }
      migrated = Promise.resolve();
    },

    status() {
      return {
        running,
        migrating,
        stopping: stopped,
        roles,
        owner: dispatcher.owner,
        breakers: dispatcher.breakers(),
      };
    },

    async idle() {
      // The dispatcher's batches emit what the alert monitor evaluates: first one, then the other.
      await dispatcher.idle();
      await alerts.idle();
    },
  };
}

/** Throws `MIGRATION_REQUIRED` unless every migration the store knows is applied. */
async function ensureMigrated(store: Store): Promise<void> {
  const { applied, latest } = await store.migrationStatus();
  if (applied >= latest) return;
  throw new PipesError({
    code: 'MIGRATION_REQUIRED',
    message: `the store's schema is at migration ${applied} of ${latest}, and this engine has autoMigrate: false: run pipes.migrate() first`,
    details: { applied, latest },
    retryable: true,
  });
}

function isSandbox(value: Sandbox | SandboxOptions | undefined): value is Sandbox {
  return value !== undefined && typeof (value as Sandbox).transform === 'function';
}

/** Wraps every async method of an API object so it waits for migrations and refuses after stop. */
function guardAll<T extends object>(
  api: T,
  guard: <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => (...args: A) => Promise<R>,
): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(api)) {
    out[key] = typeof value === 'function' ? guard(value as (...args: unknown[]) => Promise<unknown>) : value;
  }
  return out as T;
}

/** The `profiles` of a transform call: the built-in ones, the host's, or the host's given the built-in. */
function profilesFor(
  identity: Identity | null,
  host: ProfilesResolver | undefined,
): ProfilesResolver | undefined {
  if (!identity) return host;
  return async ({ pipe, events }) => {
    const builtIn = await identity.stitch(events);
    return host ? host({ pipe, events, builtIn }) : builtIn;
  };
}
