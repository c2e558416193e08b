/**
 * The audit trail: who changed what, when, through which request. Registries write an entry in the
 * same transaction as every entity change (create, update, delete, toggle, bind_secrets, rotate,
 * revert:<n>, revoke); operations that change no entity but act on the outside world (replays,
 * alert channel tests) append theirs with {@link auditEntry}. Entries hold the entity's stored data
 * before and after, which never includes a secret value: secrets keep their values in the vault,
 * API keys keep only a hash outside the data, alert channels keep their URL as a secret.
 */
import { z } from 'zod';
import { cursorSchema, newId } from './ids.js';
import type { ActorContext } from './registries/registry.js';
import type { AuditEntry, Page } from './schemas.js';
import type { NewAuditEntry, Store } from './store.js';
import { parseOrThrow } from './validation.js';

const isoTime = z.iso.datetime({ offset: true });

/** What `audit.list` filters on; the HTTP layer maps `GET /api/audit?...` onto it one to one. */
export const auditQuerySchema = z.strictObject({
  /** `source`, `event_type`, `secret`, `destination`, `pipe`, `api_key`, `write_key`, `alert_channel`. */
  entity_kind: z.string().min(1).max(64).optional(),
  entity_id: z.string().min(1).max(128).optional(),
  /** The actor as recorded: an API key's name, a CLI user, a service. */
  actor: z.string().min(1).max(200).optional(),
  /** Entries at or after this time (ISO 8601). */
  since: isoTime.optional(),
  /** Entries before this time (ISO 8601). */
  until: isoTime.optional(),
  /** `next_cursor` of the previous page. */
  cursor: cursorSchema('audit').optional(),
  /** 1..1000, default 100. */
  limit: z.number().int().min(1).max(1000).default(100),
});
export type AuditQuery = z.input<typeof auditQuerySchema>;

/**
 * Reading the audit trail.
 *
 * @example
 * ```ts
 * const page = await pipes.audit.list({ entity_kind: 'pipe', entity_id: pipe.id, limit: 50 });
 * const next = await pipes.audit.list({ entity_kind: 'pipe', entity_id: pipe.id, cursor: page.next_cursor! });
 * ```
 */
export interface AuditApi {
  /** Entries newest first; pass `next_cursor` back as `cursor` for the next page. */
  list(query?: AuditQuery): Promise<Page<AuditEntry>>;
}

export function createAuditApi(deps: { store: Store }): AuditApi {
  return {
    async list(query = {}) {
      const q = parseOrThrow(auditQuerySchema, query, 'audit query');
      const rows = await deps.store.listAudit({
        entityKind: q.entity_kind,
        entityId: q.entity_id,
        actor: q.actor,
        since: q.since === undefined ? undefined : new Date(q.since).toISOString(),
        until: q.until === undefined ? undefined : new Date(q.until).toISOString(),
        cursor: q.cursor,
        limit: q.limit + 1,
      });
      const data = rows.slice(0, q.limit);
      return {
        data,
        next_cursor: rows.length > q.limit ? (data[data.length - 1]?.id ?? null) : null,
      };
    },
  };
}

/**
 * An audit entry for an operation that is not an entity write.
 *
 * @example
 * ```ts
 * await store.appendAudit({ entry: auditEntry({ action: 'replay', entityKind: 'pipe', entityId: pipe.id, before: null, after: { count: 3 }, context, now: Date.now() }) });
 * ```
 */
export function auditEntry(input: {
  action: string;
  entityKind: string;
  entityId: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  context?: ActorContext;
  now: number;
}): NewAuditEntry {
  return {
    id: newId('audit', input.now),
    actor: input.context?.actor ?? null,
    action: input.action,
    entity_kind: input.entityKind,
    entity_id: input.entityId,
    before: input.before,
    after: input.after,
    request_id: input.context?.requestId ?? null,
    created_at: new Date(input.now).toISOString(),
  };
}
