/**
 * The parts `createPipes()` (engine.ts) wires onto one store, in the order it builds them: the shared
 * base (logger, sandbox, config cache, events), the registries, the data APIs that run transforms,
 * and the runtime (ingest, dispatcher, retention, alerts).
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
import type { PipesOptions, Role } from './engine-api.js';
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
import { engineTracer } from './tracing/index.js';
import { createTransformTestApi, type TransformTestDeps } from './transform-test.js';
import { createSchemaCompiler } from './validation.js';

export type EngineBase = ReturnType<typeof createEngineBase>;
export type EngineRegistries = ReturnType<typeof createRegistries>;
export type EngineDataApis = ReturnType<typeof createDataApis>;

/** What every other part shares: the clock, the logger, the sandbox, the config cache, the events. */
export function createEngineBase(options: PipesOptions) {
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
  // After every configuration write: this engine's cache, and a dispatcher it does not run itself.
  const configChanged = () => {
    config.invalidate();
    if (!options.onConfigChanged) return;
    try {
      options.onConfigChanged();
    } catch (err) {
      logger.warn('onConfigChanged threw', { error: String(err) });
    }
  };
  const registryDeps: RegistryDeps = { store, now, onChange: configChanged };
  return {
    store,
    now,
    logger,
    roles,
    vault,
    sandbox,
    ownsSandbox,
    egressAllow,
    compileSchema,
    config,
    events,
    tracer,
    observers,
    observer,
    registryDeps,
  };
}

/** The configuration registries, and the secrets' redaction that follows their values. */
export function createRegistries(base: EngineBase) {
  const { store, now, logger, vault, sandbox, registryDeps, compileSchema } = base;
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
  const pipes = createPipesRegistry(registryDeps, sandbox);
  return { sources, eventTypes, redaction, secrets, resolveSecrets, destinations, pipes };
}

/** Identity stitching, profiles and erasure, and what runs a pipe's transform outside dispatch. */
export function createDataApis(
  options: PipesOptions,
  base: EngineBase,
  registries: EngineRegistries,
  onRequeued: (ids: string[]) => void,
) {
  const { store, now, config, sandbox } = base;
  const { pipes, destinations, resolveSecrets, redaction } = registries;
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
  const defaultCountry = identityOptions.defaultCountry
    ? { defaultCountry: identityOptions.defaultCountry }
    : {};
  const profilesApi = createProfilesApi({ store, now, ...defaultCountry });
  // What running a pipe's transform takes, for delivery's dry run and the transform test alike.
  const transformDeps: TransformTestDeps = {
    store,
    config,
    pipes,
    sandbox,
    resolveSecrets,
    redactorFor: redaction.redactorFor,
    profiles,
  };
  const deliveries = createDeliveriesApi({ ...transformDeps, now, onRequeued });
  const erasureApi = createErasureApi({
    store,
    now,
    getDelivery: (id) => deliveries.get(id),
    secretKey: options.secretKey,
    ...defaultCountry,
  });
  const transforms = createTransformTestApi(transformDeps);
  const reconciliation = createReconciliationApi({ store, config, now });
  const sendTests = createSendTestApi({
    destinations,
    pipes,
    sandbox,
    resolveSecrets,
    redactorFor: redaction.redactorFor,
    profiles,
  });
  return { identity, profiles, profilesApi, erasureApi, deliveries, transforms, reconciliation, sendTests };
}

/** Ingest, the dispatcher, retention and alerts, and the APIs that need alerts. */
export function createRuntime(
  options: PipesOptions,
  base: EngineBase,
  registries: EngineRegistries,
  data: EngineDataApis,
  deliveriesDue: (ids: string[]) => void,
) {
  const { store, now, logger, config, sandbox, events, observer, tracer, registryDeps } = base;
  const { resolveSecrets, redaction, secrets } = registries;
  const { identity, profiles } = data;
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
    getPipeVersion: (id, version) => registries.pipes.getVersion(id, version),
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
    egressAllow: base.egressAllow,
    options: options.alerts ?? {},
    ingests: base.roles.includes('ingest'),
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
    sources: registries.sources,
    eventTypes: registries.eventTypes,
    secrets: secretsApi,
    destinations: registries.destinations,
    pipes: registries.pipes,
    channels: alerts.api.channels,
    sandbox,
    compileSchema: base.compileSchema,
    now,
  });
  return {
    rejections,
    ingest,
    authenticateCollect,
    dispatcher,
    retention,
    apiKeys,
    writeKeys,
    audit,
    alerts,
    secretsApi,
    configTransfer,
  };
}

function isSandbox(value: Sandbox | SandboxOptions | undefined): value is Sandbox {
  return value !== undefined && typeof (value as Sandbox).transform === 'function';
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
