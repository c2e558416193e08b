/**
 * What API keys and write keys share: each is an entity whose unique key is the SHA-256 digest of a
 * secret shown once (the secret itself is never stored), created and revoked with an audit entry.
 */
import { createHash } from 'node:crypto';
import { auditEntry } from '../audit.js';
import { newId } from '../ids.js';
import type { EntityRecord } from '../store.js';
import type { ActorContext, RegistryDeps } from './registry.js';

/** The digest a credential is stored and looked up under. */
export const credentialDigest = (secret: string) =>
  `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;

/** Stores a new credential of `kind` under the digest of `secret`, audited as `create`. */
export async function insertCredential(
  deps: RegistryDeps,
  kind: 'api_key' | 'write_key',
  secret: string,
  data: Record<string, unknown>,
  context: ActorContext | undefined,
): Promise<EntityRecord> {
  const now = new Date(deps.now()).toISOString();
  const record: EntityRecord = {
    kind,
    id: newId(kind, deps.now()),
    unique_key: credentialDigest(secret),
    version: 1,
    data,
    created_at: now,
    updated_at: now,
  };
  await deps.store.insertEntity({
    entity: record,
    actor: context?.actor ?? null,
    audit: auditEntry({
      action: 'create',
      entityKind: kind,
      entityId: record.id,
      before: null,
      after: data,
      context,
      now: deps.now(),
    }),
  });
  deps.onChange();
  return record;
}

/**
 * Marks a credential revoked, audited as `revoke`, and returns it as now stored. One already revoked
 * is returned unchanged (revoking twice changes nothing).
 */
export async function revokeCredential(
  deps: RegistryDeps,
  record: EntityRecord,
  context: ActorContext | undefined,
): Promise<EntityRecord> {
  if (record.data.revoked_at) return record;
  const now = new Date(deps.now()).toISOString();
  const data = { ...record.data, revoked_at: now };
  const next: EntityRecord = { ...record, data, updated_at: now };
  await deps.store.updateEntity({
    entity: next,
    expectedVersion: record.version,
    actor: context?.actor ?? null,
    audit: auditEntry({
      action: 'revoke',
      entityKind: record.kind,
      entityId: record.id,
      before: record.data,
      after: data,
      context,
      now: deps.now(),
    }),
  });
  deps.onChange();
  return { ...next, version: record.version + 1 };
}
