/**
 * Alerts: channels (Slack, Teams, generic webhook), the monitor that turns delivery outcomes,
 * circuit-breaker changes, success rates and event volumes into alerts with noise control, and the sender that posts
 * them through the egress guard without ever touching the delivery path.
 */

import { createEgressGuard } from '@openpipes/sandbox';
import type { ConfigCache } from '../config.js';
import type { EngineEvents } from '../events.js';
import type { Logger } from '../logger.js';
import type { RegistryDeps } from '../registries/registry.js';
import type { SecretResolver, SecretsRegistry } from '../registries/secrets.js';
import type { Redactor } from '../secrets/redact.js';
import type { Store } from '../store.js';
import { type AlertChannelsApi, createAlertChannels } from './channels.js';
import { createAlertMonitor } from './monitor.js';
import { createAlertSender } from './sender.js';

export interface AlertsOptions {
  /** Longest wait for a channel to answer, ms (connect to last byte). Default 5000. */
  timeoutMs?: number;
  /** Messages waiting per channel before new ones are dropped (and counted). Default 100. */
  queueSize?: number;
  /** How often folded alerts whose cooldown ended are sent, ms. Default 1000. */
  flushIntervalMs?: number;
  /** How often accepted-event counts are written to the store and volumes checked, ms. Default 60000. */
  volumeIntervalMs?: number;
}

/**
 * Alerts, as `pipes.alerts`.
 *
 * @example
 * ```ts
 * await pipes.alerts.channels.create({ name: 'ops-teams', type: 'teams', url: process.env.TEAMS_WORKFLOW_URL!, kinds: ['pipe_failing', 'delivery_dead'] });
 * ```
 */
export interface AlertsApi {
  readonly channels: AlertChannelsApi;
}

export interface AlertsDeps {
  registry: RegistryDeps;
  store: Store;
  config: ConfigCache;
  secrets: SecretsRegistry;
  resolveSecrets: SecretResolver;
  /** The redactor for a destination's current secret values (cached, with retired values). */
  redactorFor?: (current: Record<string, string>) => Promise<Redactor>;
  events: EngineEvents;
  logger: Logger;
  now: () => number;
  publicBaseUrl: string | null;
  /** The operator's egress allow-list, the same the sandbox's `fetch` gets. */
  egressAllow: string[];
  options: AlertsOptions;
  /** The engine ingests (has the ingest role): only such an engine checks volumes on its ticker. */
  ingests?: boolean;
}

export interface Alerts {
  api: AlertsApi;
  /** Throws `CONFLICT` when an alert channel's URL is this secret. */
  ensureSecretUnused(secretId: string): Promise<void>;
  /** Counts accepted events for volume alerts (per source and event type); cheap, never throws. */
  onAccepted(sourceId: string, perType: ReadonlyMap<string, number>): void;
  /** Writes the counted volumes and checks volumes now (tests; the ticker does it every minute). */
  checkVolume(): Promise<void>;
  /** Starts sending folded alerts when their cooldown ends. */
  start(): void;
  /** Evaluates what the last batches reported, sends what is queued for up to `graceMs`, then stops. */
  stop(graceMs: number): Promise<void>;
  /** Resolves when nothing is waiting to be evaluated or sent (tests). */
  idle(): Promise<void>;
}

export function createAlerts(deps: AlertsDeps): Alerts {
  const guard = createEgressGuard({
    allow: deps.egressAllow,
    connectTimeoutMs: deps.options.timeoutMs ?? 5000,
  });
  // The sender needs the channels (for URLs) and the channels need the sender (for `test`).
  let resolveUrl: Parameters<typeof createAlertSender>[0]['resolveUrl'] = async () => null;
  const sender = createAlertSender({
    dispatcher: guard.dispatcher,
    resolveUrl: (target) => resolveUrl(target),
    state: {
      get: (key) => deps.store.getState({ key }),
      set: (key, value) => deps.store.setState({ key, value, now: new Date(deps.now()).toISOString() }),
    },
    logger: deps.logger,
    now: deps.now,
    timeoutMs: deps.options.timeoutMs ?? 5000,
    queueSize: deps.options.queueSize ?? 100,
  });
  const channels = createAlertChannels({
    registry: deps.registry,
    secrets: deps.secrets,
    resolveSecrets: deps.resolveSecrets,
    sender,
    logger: deps.logger,
    publicBaseUrl: deps.publicBaseUrl,
  });
  resolveUrl = channels.resolveUrl;

  const monitor = createAlertMonitor({
    store: deps.store,
    config: deps.config,
    channels: () => channels.enabled(),
    sender,
    resolveSecrets: deps.resolveSecrets,
    ...(deps.redactorFor ? { redactorFor: deps.redactorFor } : {}),
    logger: deps.logger,
    now: deps.now,
    publicBaseUrl: deps.publicBaseUrl,
    flushIntervalMs: deps.options.flushIntervalMs ?? 1000,
    ...(deps.options.volumeIntervalMs ? { volumeIntervalMs: deps.options.volumeIntervalMs } : {}),
    checksVolume: deps.ingests !== false,
  });
  deps.events.on('deliveries', monitor.onDeliveries);
  deps.events.on('destination-paused', monitor.onPaused);
  deps.events.on('destination-resumed', monitor.onResumed);

  return {
    api: { channels: channels.api },
    ensureSecretUnused: channels.ensureSecretUnused,
    onAccepted: monitor.onAccepted,
    checkVolume: monitor.checkVolume,
    start: monitor.start,
    async stop(graceMs) {
      await monitor.stop();
      await sender.close(graceMs);
      await guard.close().catch(() => {});
    },
    async idle() {
      await monitor.idle();
      await sender.idle();
    },
  };
}

export type { AlertChannelsApi } from './channels.js';
export { formatAlert, toSlack, toTeams, toWebhook, type WebhookAlertBody } from './format.js';
export * from './schemas.js';
