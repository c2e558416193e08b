import { z } from 'zod';
import { PipesError } from '../errors.js';
import { newId } from '../ids.js';
import { type Secret, type SecretInput, secretInputSchema, secretKeySchema } from '../schemas.js';
import type { Vault } from '../secrets/vault.js';
import type { EntityRecord } from '../store.js';
import { parseOrThrow } from '../validation.js';
import { presentSecret } from './present.js';
import { type ActorContext, createRegistry, type Registry, type RegistryDeps } from './registry.js';

/** What is stored for a secret besides its encrypted value. */
const secretDataSchema = z.strictObject({
  key: secretKeySchema,
  description: z.string().max(2000).optional(),
  value_version: z.number().int().positive(),
  value_updated_at: z.string(),
});

/**
 * Secrets: named values (`META_ACCESS_TOKEN`) encrypted at rest, bound to destinations. A value is
 * written, never read back; `updateValue` rotates it and the next delivery uses the new one. A
 * replaced value (and the last value of a deleted secret) is kept encrypted as a retired value, used
 * only to redact, until retention destroys it (docs/security.md, "Rotation").
 *
 * @example
 * ```ts
 * const token = await pipes.secrets.create({ key: 'META_ACCESS_TOKEN', value: process.env.META_TOKEN! });
 * await pipes.secrets.updateValue(token.id, newToken);
 * ```
 */
export interface SecretsRegistry extends Omit<Registry<Secret, SecretInput>, 'update'> {
  /** Updates key or description. The value is changed only through {@link updateValue}. */
  update(id: string, patch: { key?: string; description?: string }, context?: ActorContext): Promise<Secret>;
  /**
   * Rotates the value. When it resolves, no sandbox context of this process that was given the old
   * value is called again (none of any process is: contexts are keyed by the values they were
   * given), and the old value is kept only to redact.
   */
  updateValue(id: string, value: string, context?: ActorContext): Promise<Secret>;
  /** Finds a secret by key; null when absent. */
  findByKey(key: string): Promise<Secret | null>;
}

/** Decrypted values of a set of secrets, keyed by secret key. Internal to the engine. */
export type SecretResolver = (secretIds: string[]) => Promise<Record<string, string>>;

/** What the engine does when a value stops being current (rotated, or its secret deleted). */
export interface SecretHooks {
  /**
   * Called after the store holds the new state and before `updateValue` / `delete` resolve, with
   * the value(s) no longer current: the engine retires the sandbox contexts that were given them
   * and reads the retired values again for redaction. Must not throw.
   */
  onValuesRetired?(input: { secretId: string; values: string[] }): Promise<void>;
}

type SecretStore = RegistryDeps['store'];

/** Decrypted values of a set of secrets, read through `plaintext`, cached by (id, value_version). */
function createResolver(
  store: SecretStore,
  vault: Vault,
  plaintext: Map<string, { version: number; value: string }>,
): SecretResolver {
  return async (secretIds) => {
    const out: Record<string, string> = {};
    if (secretIds.length === 0) return out;
    const records = await Promise.all(secretIds.map((id) => store.getEntity({ kind: 'secret', id })));
    const need = records.filter(
      (r): r is EntityRecord => r !== null && plaintext.get(r.id)?.version !== r.data.value_version,
    );
    if (need.length > 0) {
      const sealed = await store.getSecretValues({ secretIds: need.map((r) => r.id) });
      for (const record of need) {
        const value = sealed.get(record.id);
        if (value === undefined) continue;
        plaintext.set(record.id, {
          version: record.data.value_version as number,
          value: vault.decrypt(record.id, value),
        });
      }
    }
    for (const record of records) {
      if (!record) continue;
      const value = plaintext.get(record.id);
      if (value) out[record.data.key as string] = value.value;
    }
    return out;
  };
}

/**
 * Keeps the current value as a retired value (encrypted, for redaction only) before it is
 * replaced or its secret deleted; returns it decrypted, for the sandbox to retire its contexts.
 */
async function retireValue(
  store: SecretStore,
  vault: Vault,
  record: EntityRecord,
  now: string,
  next?: string,
): Promise<string | undefined> {
  const sealed = (await store.getSecretValues({ secretIds: [record.id] })).get(record.id);
  if (sealed === undefined) return undefined;
  let old: string | undefined;
  try {
    old = vault.decrypt(record.id, sealed);
  } catch {
    old = undefined; // written under another key: no context can have been given it by us
  }
  if (old !== undefined && old === next) return undefined; // the same value again: nothing retires
  await store.retireSecretValue({ secretId: record.id, key: record.data.key as string, now });
  return old;
}

/** Throws `CONFLICT` when a destination or a source uses the secret. */
async function ensureUnbound(store: SecretStore, id: string): Promise<void> {
  for (const kind of ['destination', 'source'] as const) {
    let after: string | undefined;
    for (;;) {
      const page = await store.listEntities({ kind, after, limit: 500 });
      const user = page.find((e) =>
        kind === 'destination'
          ? (e.data.secret_ids as string[]).includes(id)
          : (e.data.auth as { secret_id?: string }).secret_id === id,
      );
      if (user) {
        throw new PipesError({
          code: 'CONFLICT',
          message: `secret ${id} is used by ${kind} ${user.id} (${String(user.data.name)}); unbind it first`,
        });
      }
      if (page.length < 500) break;
      after = page[page.length - 1]?.id;
    }
  }
}

export function createSecretsRegistry(
  deps: RegistryDeps,
  vault: Vault,
  hooks: SecretHooks = {},
): { registry: SecretsRegistry; resolve: SecretResolver } {
  const base = createRegistry(deps, {
    kind: 'secret',
    label: 'secret',
    inputSchema: secretDataSchema,
    uniqueKey: (data) => data.key,
    readonlyFields: ['value_version', 'value_updated_at'],
    present: presentSecret,
  });

  // Decrypted values cached by (id, value_version): rotation bumps the version and misses the cache.
  const plaintext = new Map<string, { version: number; value: string }>();

  const resolve = createResolver(deps.store, vault, plaintext);
  const retireCurrent = (record: EntityRecord, now: string, next?: string) =>
    retireValue(deps.store, vault, record, now, next);

  const registry: SecretsRegistry = {
    ...base.api,
    async create(input, context) {
      const parsed = parseOrThrow(secretInputSchema, input, 'secret');
      const existing = await deps.store.findEntity({ kind: 'secret', uniqueKey: parsed.key });
      if (existing) {
        throw new PipesError({ code: 'CONFLICT', message: `a secret with key ${parsed.key} already exists` });
      }
      const id = newId('secret', deps.now());
      const now = new Date(deps.now()).toISOString();
      // The value goes first: a value without its entity is harmless, an entity without a value is not.
      await deps.store.putSecretValue({ secretId: id, ciphertext: vault.encrypt(id, parsed.value), now });
      const data: z.infer<typeof secretDataSchema> = {
        key: parsed.key,
        value_version: 1,
        value_updated_at: now,
      };
      if (parsed.description !== undefined) data.description = parsed.description;
      return base.insert(data, context, id);
    },
    update(id, patch, context) {
      return base.api.update(id, patch as never, context);
    },
    async updateValue(id, value, context) {
      const parsed = parseOrThrow(
        z
          .string()
          .min(1)
          .max(64 * 1024),
        value,
        'secret value',
      );
      const record = await base.load(id);
      const now = new Date(deps.now()).toISOString();
      // Retired first: a crash between the two steps leaves an extra retired copy, never a value
      // that was replaced without being kept for redaction.
      const old = await retireCurrent(record, now, parsed);
      await deps.store.putSecretValue({ secretId: id, ciphertext: vault.encrypt(id, parsed), now });
      const secret = await base.write(
        id,
        (data) => ({ ...data, value_version: data.value_version + 1, value_updated_at: now }),
        'rotate',
        context,
      );
      plaintext.delete(id);
      if (old !== undefined) await hooks.onValuesRetired?.({ secretId: id, values: [old] });
      return secret;
    },
    findByKey: base.findByKey,
    async delete(id, context) {
      await ensureUnbound(deps.store, id);
      const record = await base.load(id);
      const old = await retireCurrent(record, new Date(deps.now()).toISOString());
      await base.api.delete(id, context);
      plaintext.delete(id);
      if (old !== undefined) await hooks.onValuesRetired?.({ secretId: id, values: [old] });
    },
  };
  return { registry, resolve };
}
