/**
 * `createPipes()`: the engine. It wires the registries, ingest, the dispatcher and the sandbox onto
 * one store. Embed it in your Node backend, or run it through `openpipes serve`.
 */

import type { Sandbox } from '@openpipes/sandbox';
import { type Alerts, createAlerts } from './alerts/index.js';
import { createAuditApi } from './audit.js';
import { createCollectAuthenticator } from './collect-auth.js';
import { createConfigCache } from './config.js';
import { createConfigTransfer } from './config-transfer/index.js';
import type { ProfilesResolver } from './deliver.js';
import { createDeliveriesApi } from './deliveries.js';
import { createDispatcher } from './dispatch/dispatcher.js';
import { PipesError } from './errors.js';
import { createEngineEvents } from './events.js';
import { createProfilesApi } from './identity/api.js';
import { createErasureApi } from './identity/erasure.js';
import { createIdentity, type Identity } from './identity/stitch.js';
import { newId } from './ids.js';
import { createIngest } from './ingest.js';
import { adaptLogger, createDefaultLogger } from './logger.js';
import { createObservers } from './observer.js';
import { createReconciliationApi } from './reconciliation.js';
import { createApiKeysApi } from './registries/api-keys.js';
import { createDestinationsRegistry } from './registries/destinations.js';
import { createEventTypesRegistry } from './registries/event-types.js';
import { createPipesRegistry } from './registries/pipes.js';
import type { RegistryDeps } from './registries/registry.js';
import { createSecretsRegistry, type SecretsRegistry } from './registries/secrets.js';
import { createSourcesRegistry } from './registries/sources.js';
import { createWriteKeysApi } from './registries/write-keys.js';
import { createRejectionLog } from './rejections.js';
import { createRetention } from './retention.js';
import { createSandbox, type SandboxOptions } from './sandbox/index.js';
import { createRedactionSource } from './secrets/redaction.js';
import { createVault } from './secrets/vault.js';
import { createSendTestApi } from './send-test.js';
import type { Store } from './store.js';
import { collectSpan, engineTracer } from './tracing/index.js';
import { createTransformTestApi, type TransformTestDeps } from './transform-test.js';
import { createSchemaCompiler } from './validation.js';

export type { Pipes, PipesOptions, PipesStatus, Role } from './engine-api.js';

import type { Pipes, PipesOptions, Role } from './engine-api.js';

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
      migrated = checkedMigration(store, autoMigrate).then(
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
  const deliveriesDue = (ids: string[]) => {
    dispatcherNotify(ids);
    if (!options.onDeliveriesDue) return;
    try {
      options.onDeliveriesDue(ids);
    } catch (err) {
      logger.warn('onDeliveriesDue threw', { error: String(err) });
    }
  };
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
  // What running a pipe's transform takes, for delivery's dry run and the transform test alike.
  const transformDeps: TransformTestDeps = {
    store,
    config,
    pipes: pipesRegistry,
    sandbox,
    resolveSecrets,
    redactorFor: redaction.redactorFor,
    profiles,
  };
  const deliveries = createDeliveriesApi({
    ...transformDeps,
    now,
    onRequeued: deliveriesDue,
  });
  const erasureApi = createErasureApi({
    store,
    now,
    getDelivery: (id) => deliveries.get(id),
    secretKey: options.secretKey,
    ...(identityOptions.defaultCountry ? { defaultCountry: identityOptions.defaultCountry } : {}),
  });
  const transforms = createTransformTestApi(transformDeps);
  const reconciliation = createReconciliationApi({ store, config, now });
  const sendTests = createSendTestApi({
    destinations,
    pipes: pipesRegistry,
    sandbox,
    resolveSecrets,
    redactorFor: redaction.redactorFor,
    profiles,
  });
  const rejections = createRejectionLog({ store, now, logger, options: options.rejections ?? {} });
  const ingest = createIngest({
    store,
    rejections,
    config,
    now,
    observer,
    onDeliveriesCreated: deliveriesDue,
    onAccepted: (sourceId, perType) => alerts.onAccepted(sourceId, perType),
    tracer,
    ...(identity
      ? {
          // Linked in the transaction that stores the events. A failed link loses no event (ingest
          // stores the events again without it): delivery still stitches the event's own
          // identifiers, and the next event from the same person links again.
          identityFor: (valid: Parameters<Identity['plan']>[0]) => identity.plan(valid),
          onIdentityFailed: (err: unknown) =>
            logger.warn('could not link identifiers', { error: String(err) }),
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
  const writeKeys = createWriteKeysApi(registryDeps);
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
    sendTests: guardAll(sendTests, guard),
    reconciliation: guardAll(reconciliation, guard),
    apiKeys: guardAll(apiKeys, guard),
    writeKeys: guardAll(writeKeys, guard),
    audit: guardAll(audit, guard),
    profiles: guardAll({ ...profilesApi, ...erasureApi }, guard),
    alerts: { channels: guardAll(alerts.api.channels, guard) },
    config: guardAll(configTransfer, guard),
    store,
    sandbox,
    ingest: guard(ingest),
    authenticateCollect: guard(authenticateCollect),
    on: events.on,
    observe: observers.add,
    traceCollect: (input, fn) => collectSpan(tracer, input, fn),
    logRejectedRequest: ({ sourceId, error, text }) => rejections.record(sourceId, [{ error, text }]),
    logRejectedMessages: ({ sourceId, rejected }) => rejections.record(sourceId, [...rejected]),
    linkIdentifiers: guard(async (items: Parameters<Identity['link']>[0]) => {
      if (!identity) return false;
      await identity.link(items);
      return true;
    }),

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
        await checkedMigration(store, true);
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

/**
 * Migrates the store (`migrate`), or checks that it needs no migration (throws `MIGRATION_REQUIRED`
 * while it is behind). Either way first refuses, with `SCHEMA_TOO_NEW`, a schema a newer OpenPipes
 * migrated further than this one knows: this version would neither read nor keep what those
 * migrations added (after SQLite migration 13, an older version's erasure misses the first event of
 * every identifier), so it must not serve it.
 */
async function checkedMigration(store: Store, migrate: boolean): Promise<void> {
  const { applied, latest } = await store.migrationStatus();
  if (applied > latest) {
    throw new PipesError({
      code: 'SCHEMA_TOO_NEW',
      message: `the store's schema is at migration ${applied}, newer than this OpenPipes knows (${latest}): run the version that migrated it, or a newer one`,
      details: { applied, latest },
    });
  }
  if (migrate) return store.migrate();
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
