/**
 * `createPipes()`: the engine. It wires the registries, ingest, the dispatcher and the sandbox onto
 * one store. Embed it in your Node backend, or run it through `openpipes serve`.
 */

import { createEngineGate, guardAll } from './engine-lifecycle.js';
import { createDataApis, createEngineBase, createRegistries, createRuntime } from './engine-wiring.js';
import type { Identity } from './identity/stitch.js';
import { markEngineIngest } from './json-value.js';
import { collectSpan } from './tracing/index.js';

export type { Pipes, PipesOptions, PipesStatus, Role } from './engine-api.js';

import type { Pipes, PipesOptions } from './engine-api.js';

export function createPipes(options: PipesOptions): Pipes {
  const base = createEngineBase(options);
  const { store, logger, roles, sandbox, events, observers, tracer } = base;
  const gate = createEngineGate(store, options.autoMigrate ?? true);
  const { guard } = gate;

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
  const registries = createRegistries(base);
  const data = createDataApis(options, base, registries, deliveriesDue);
  const runtime = createRuntime(options, base, registries, data, deliveriesDue);
  const { identity } = data;
  const { dispatcher, retention, alerts, rejections } = runtime;

  // The collect route vouches for the events it parsed only to this very function (json-value.ts).
  const ingest = guard(runtime.ingest);
  markEngineIngest(ingest);

  let running = false;
  let unsubscribe: (() => Promise<void>) | null = null;

  return {
    sources: guardAll(registries.sources, guard),
    eventTypes: guardAll(registries.eventTypes, guard),
    secrets: guardAll(runtime.secretsApi, guard),
    destinations: guardAll(registries.destinations, guard),
    pipes: guardAll(registries.pipes, guard),
    deliveries: guardAll(data.deliveries, guard),
    transforms: guardAll(data.transforms, guard),
    sendTests: guardAll(data.sendTests, guard),
    reconciliation: guardAll(data.reconciliation, guard),
    apiKeys: guardAll(runtime.apiKeys, guard),
    writeKeys: guardAll(runtime.writeKeys, guard),
    audit: guardAll(runtime.audit, guard),
    profiles: guardAll({ ...data.profilesApi, ...data.erasureApi }, guard),
    alerts: { channels: guardAll(alerts.api.channels, guard) },
    config: guardAll(runtime.configTransfer, guard),
    store,
    sandbox,
    ingest,
    authenticateCollect: guard(runtime.authenticateCollect),
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
      gate.assertNotStopped();
      if (running) return;
      await gate.ready();
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
      if (!gate.markStopped()) return;
      running = false;
      const graceMs = stopOptions.graceMs ?? 30_000;
      await Promise.all([dispatcher.stop(graceMs), retention.stop()]);
      // Alerts about the last batches still go out, but a dead channel never holds up a stop for long.
      await alerts
        .stop(Math.min(graceMs, 5000))
        .catch((err) => logger.warn('stopping alerts failed', { error: String(err) }));
      if (unsubscribe) await unsubscribe().catch(() => {});
      // The sandbox is closed only when the engine made it; the store never is (the caller made it).
      if (base.ownsSandbox) await sandbox.close();
    },

    configChanged() {
      // A secret rotated or deleted elsewhere retired a value this engine's redactors do not know.
      registries.redaction.invalidate();
      dispatcher.configChanged();
    },

    prune: guard(() => retention.runOnce()),

    migrate: () => gate.migrate(),

    status() {
      return {
        running,
        migrating: gate.migrating,
        stopping: gate.stopped,
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
