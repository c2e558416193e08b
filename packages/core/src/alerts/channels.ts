/**
 * Alert channels: where alerts go (Slack, Teams, a generic webhook), for which pipes, which kinds,
 * and how often. Built on the generic registry, so every change is versioned and audited like a
 * pipe. The webhook URL is the channel's credential and is kept as a secret: `create({ url })`
 * stores it as a new secret bound to the channel (`ALERT_CHANNEL_URL_<id>`), `update({ url })`
 * rotates that secret; the URL is never returned, versioned, audited or logged.
 */

import { auditEntry } from '../audit.js';
import { PipesError } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import {
  type ActorContext,
  createRegistry,
  type ListOptions,
  type RegistryDeps,
  type Switchable,
  switchable,
  type Versioned,
} from '../registries/registry.js';
import type { SecretResolver, SecretsRegistry } from '../registries/secrets.js';
import type { Page } from '../schemas.js';
import type { EntityRecord } from '../store.js';
import { parseOrThrow } from '../validation.js';
import { testAlert } from './message.js';
import {
  type AlertChannel,
  type AlertChannelConfig,
  type AlertChannelData,
  type AlertChannelInput,
  type AlertSendResult,
  alertChannelConfigSchema,
  alertChannelDataSchema,
  alertChannelInputSchema,
} from './schemas.js';
import { type AlertSender, type AlertTarget, channelHealthKey, toHealth } from './sender.js';

/**
 * Alert channels.
 *
 * @example
 * ```ts
 * const slack = await pipes.alerts.channels.create({ name: 'ops-slack', type: 'slack', url: process.env.SLACK_WEBHOOK_URL! });
 * await pipes.alerts.channels.test(slack.id); // { ok: true, status: 200, error: null, at: '…' }
 * await pipes.alerts.channels.update(slack.id, { pipe_ids: [pipe.id], cooldown_seconds: 600 });
 * ```
 */
export interface AlertChannelsApi extends Switchable<AlertChannel> {
  /** Creates a channel from `url` (stored as a new secret) or `url_secret_id` (an existing secret). */
  create(input: AlertChannelInput, context?: ActorContext): Promise<AlertChannel>;
  /** A channel with its health (`last_delivery`, failure counts). Throws `NOT_FOUND`. */
  get(id: string): Promise<AlertChannel>;
  /** Oldest first. */
  list(options?: ListOptions): Promise<Page<AlertChannel>>;
  /** Applies a patch; `url` rotates the channel's URL secret. */
  update(id: string, patch: Partial<AlertChannelInput>, context?: ActorContext): Promise<AlertChannel>;
  /** Deletes the channel, and the URL secret it created. */
  delete(id: string, context?: ActorContext): Promise<void>;
  /** Every version, oldest first (configuration only; URLs are secrets and are not versioned). */
  versions(id: string): Promise<Array<Versioned<AlertChannelConfig>>>;
  /** Makes a new version equal to an old one. The URL secret's value is not rolled back. */
  revert(id: string, version: number, context?: ActorContext): Promise<AlertChannel>;
  /** Sends a sample alert now and resolves with what the channel answered (never throws for a failed send). */
  test(id: string, context?: ActorContext): Promise<AlertSendResult>;
}

export interface AlertChannelsDeps {
  registry: RegistryDeps;
  secrets: SecretsRegistry;
  resolveSecrets: SecretResolver;
  sender: AlertSender;
  logger: Logger;
  publicBaseUrl: string | null;
}

/** The channels API plus what the engine needs internally. */
export interface AlertChannels {
  api: AlertChannelsApi;
  /** Enabled channels, cached for about a second (and refreshed after local writes). */
  enabled(): Promise<AlertChannelConfig[]>;
  /** Throws `CONFLICT` when a channel's URL is this secret (guards `secrets.delete`). */
  ensureSecretUnused(secretId: string): Promise<void>;
  /** The URL of a channel, decrypted. */
  resolveUrl(target: AlertTarget): Promise<string | null>;
}

/** The key of the secret a channel creates for its URL. */
export const channelSecretKey = (channelId: string) =>
  `ALERT_CHANNEL_URL_${channelId.slice(channelId.indexOf('_') + 1)}`;

export function presentAlertChannelConfig(record: EntityRecord): AlertChannelConfig {
  return alertChannelConfigSchema.parse({
    ...record.data,
    id: record.id,
    version: record.version,
    created_at: record.created_at,
    updated_at: record.updated_at,
  });
}

/** Accepts an absolute http(s) URL. The message never repeats the URL: it is a credential. */
function checkUrl(url: unknown): string {
  const fail = (why: string) =>
    new PipesError({
      code: 'VALIDATION_FAILED',
      message: `url: ${why}`,
      details: { issues: [{ path: 'url', message: why }] },
    });
  if (typeof url !== 'string' || url.length === 0) throw fail('must be an http or https URL');
  if (url.length > 4096) throw fail('is longer than 4096 characters');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail('must be an absolute http or https URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw fail('must be an http or https URL');
  return url;
}

const cacheTtlMs = 1000;

type ChannelStore = RegistryDeps['store'];

/** The registry's check: the URL secret and every pipe a channel names exist. */
async function checkReferences(store: ChannelStore, data: AlertChannelData): Promise<void> {
  const issues: Array<{ path: string; message: string }> = [];
  if (!(await store.getEntity({ kind: 'secret', id: data.url_secret_id }))) {
    issues.push({ path: 'url_secret_id', message: `secret ${data.url_secret_id} does not exist` });
  }
  for (const pipeId of new Set(data.pipe_ids)) {
    if (!(await store.getEntity({ kind: 'pipe', id: pipeId }))) {
      issues.push({ path: 'pipe_ids', message: `pipe ${pipeId} does not exist` });
    }
  }
  if (issues.length > 0) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: issues.map((i) => `${i.path}: ${i.message}`).join('; '),
      details: { issues },
    });
  }
}

/** Parses a new channel; exactly one of `url` (checked) and `url_secret_id` is given. */
function parseNewChannel(input: AlertChannelInput) {
  const { url, url_secret_id, ...rest } = parseOrThrow(alertChannelInputSchema, input, 'alert channel');
  if ((url === undefined) === (url_secret_id === undefined)) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: 'give the webhook as `url` or as `url_secret_id` (one of them)',
      details: { issues: [{ path: 'url', message: 'give url or url_secret_id' }] },
    });
  }
  if (url !== undefined) checkUrl(url);
  return { url, url_secret_id, rest };
}

/** Every channel, oldest first, read in pages. */
async function listAllChannels(store: ChannelStore): Promise<AlertChannelConfig[]> {
  const out: AlertChannelConfig[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listEntities({ kind: 'alert_channel', after, limit: 500 });
    out.push(...page.map(presentAlertChannelConfig));
    if (page.length < 500) return out;
    after = page[page.length - 1]?.id;
  }
}

const targetOf = (channel: AlertChannelConfig): AlertTarget => ({
  id: channel.id,
  name: channel.name,
  type: channel.type,
  url_secret_id: channel.url_secret_id,
});

/** Stores a URL in the channel's own secret: rotates it when it exists, creates it otherwise. */
async function storeUrl(
  secrets: SecretsRegistry,
  channel: { id: string; name: string },
  url: string,
  context?: ActorContext,
) {
  const key = channelSecretKey(channel.id);
  const own = await secrets.findByKey(key);
  if (own) return secrets.updateValue(own.id, url, context);
  return secrets.create(
    { key, value: url, description: `Webhook URL of alert channel "${channel.name}" (${channel.id})` },
    context,
  );
}

/** Throws `CONFLICT` when a channel's URL is this secret. */
async function ensureSecretUnused(store: ChannelStore, secretId: string): Promise<void> {
  const user = (await listAllChannels(store)).find((c) => c.url_secret_id === secretId);
  if (user) {
    throw new PipesError({
      code: 'CONFLICT',
      message: `secret ${secretId} is the URL of alert channel ${user.id} (${user.name}); delete or rebind the channel first`,
    });
  }
}

/** After a channel is deleted: its own URL secret goes too (unless another channel uses it), and its health. */
async function forgetChannel(deps: AlertChannelsDeps, id: string, context?: ActorContext): Promise<void> {
  const own = await deps.secrets.findByKey(channelSecretKey(id));
  if (own) {
    try {
      await ensureSecretUnused(deps.registry.store, own.id);
      await deps.secrets.delete(own.id, context);
    } catch (err) {
      deps.logger.warn('kept the URL secret of a deleted alert channel', {
        channel_id: id,
        secret_id: own.id,
        error: String((err as Error).message ?? err),
      });
    }
  }
  await deps.registry.store.setState({
    key: channelHealthKey(id),
    value: null,
    now: new Date(deps.registry.now()).toISOString(),
  });
}

/** Sends a sample alert to the channel and puts the operator's action in the audit trail. */
async function testChannel(
  deps: AlertChannelsDeps,
  channel: AlertChannelConfig,
  context?: ActorContext,
): Promise<AlertSendResult> {
  const result = await deps.sender.send(
    targetOf(channel),
    testAlert(channel.name, deps.publicBaseUrl, deps.registry.now()),
  );
  // Sending is an operator action with an effect outside OpenPipes: it goes in the trail.
  await deps.registry.store.appendAudit({
    entry: auditEntry({
      action: 'test',
      entityKind: 'alert_channel',
      entityId: channel.id,
      before: null,
      after: { ok: result.ok, status: result.status, error: result.error },
      context,
      now: deps.registry.now(),
    }),
  });
  return result;
}

/** Enabled channels, kept for about a second and then only while the config revision stays. */
function enabledChannelsCache(store: ChannelStore) {
  let cache: { checkedAt: number; revision: number; channels: AlertChannelConfig[] } | null = null;
  return {
    invalidate() {
      cache = null;
    },
    async enabled(): Promise<AlertChannelConfig[]> {
      const now = Date.now();
      if (cache && now - cache.checkedAt < cacheTtlMs) return cache.channels;
      const revision = await store.configRevision();
      if (cache && cache.revision === revision) {
        cache.checkedAt = now;
        return cache.channels;
      }
      const channels = (await listAllChannels(store)).filter((c) => c.enabled);
      cache = { checkedAt: now, revision, channels };
      return channels;
    },
  };
}

export function createAlertChannels(deps: AlertChannelsDeps): AlertChannels {
  const { store } = deps.registry;
  const cache = enabledChannelsCache(store);

  const base = createRegistry(
    {
      ...deps.registry,
      onChange: () => {
        deps.registry.onChange();
        cache.invalidate();
      },
    },
    {
      kind: 'alert_channel',
      idKind: 'alert_channel',
      label: 'alert channel',
      inputSchema: alertChannelDataSchema,
      uniqueKey: (data) => data.name,
      present: presentAlertChannelConfig,
      check: (data) => checkReferences(store, data),
    },
  );

  const withHealth = async (config: AlertChannelConfig): Promise<AlertChannel> => ({
    ...config,
    ...toHealth(await store.getState({ key: channelHealthKey(config.id) })),
  });

  const api: AlertChannelsApi = {
    async create(input, context) {
      const { url, url_secret_id, rest } = parseNewChannel(input);
      if (await store.findEntity({ kind: 'alert_channel', uniqueKey: rest.name })) {
        throw new PipesError({
          code: 'CONFLICT',
          message: `an alert channel named ${rest.name} already exists`,
        });
      }
      const id = newId('alert_channel', deps.registry.now());
      // The secret goes first: a channel must never point at a URL that is not stored.
      const created =
        url === undefined ? null : await storeUrl(deps.secrets, { id, name: rest.name }, url, context);
      try {
        const channel = await base.insert(
          { ...rest, url_secret_id: created?.id ?? url_secret_id! },
          context,
          id,
        );
        return await withHealth(channel);
      } catch (err) {
        if (created) await deps.secrets.delete(created.id, context).catch(() => {});
        throw err;
      }
    },

    async get(id) {
      return withHealth(await base.api.get(id));
    },

    async list(options) {
      const page = await base.api.list(options);
      return { data: await Promise.all(page.data.map(withHealth)), next_cursor: page.next_cursor };
    },

    async update(id, patch, context) {
      const { url, ...rest } = (patch ?? {}) as Partial<AlertChannelInput>;
      const current = await base.api.get(id);
      const changes: Record<string, unknown> = { ...rest };
      if (url !== undefined) {
        if (rest.url_secret_id !== undefined) {
          throw new PipesError({
            code: 'VALIDATION_FAILED',
            message: 'give the webhook as `url` or as `url_secret_id`, not both',
            details: { issues: [{ path: 'url', message: 'give url or url_secret_id, not both' }] },
          });
        }
        checkUrl(url);
        const secret = await storeUrl(deps.secrets, { id, name: rest.name ?? current.name }, url, context);
        changes.url_secret_id = secret.id;
      }
      return withHealth(await base.api.update(id, changes as never, context));
    },

    async delete(id, context) {
      await base.api.delete(id, context);
      await forgetChannel(deps, id, context);
    },

    versions(id) {
      return base.api.versions(id);
    },

    async revert(id, version, context) {
      return withHealth(await base.api.revert(id, version, context));
    },

    ...switchable(async (id, enabled, context) => withHealth(await base.toggle(id, enabled, context))),

    async test(id, context) {
      return testChannel(deps, await base.api.get(id), context);
    },
  };

  return {
    api,
    ensureSecretUnused: (secretId) => ensureSecretUnused(store, secretId),
    enabled: cache.enabled,
    async resolveUrl(target) {
      const values = await deps.resolveSecrets([target.url_secret_id]);
      return Object.values(values)[0] ?? null;
    },
  };
}
