/**
 * The generic part of every registry (sources, event types, secrets, destinations, pipes): create,
 * get, list, update (a patch), delete, versions and revert, with validation, unique keys, version
 * snapshots and an audit entry on every write. Each concrete registry adds its own checks through
 * {@link RegistrySpec} hooks.
 */
import { z } from 'zod';
import { PipesError } from '../errors.js';
import { cursorSchema, type IdKind, isId, newId } from '../ids.js';
import { isStorableText } from '../json-value.js';
import type { EntityKind, EntityRecord, NewAuditEntry, Store } from '../store.js';
import { parseOrThrow } from '../validation.js';

/** Who is making a change, for the audit trail. */
export interface ActorContext {
  /** The API key's name or id, a CLI user, or a service name. */
  actor?: string | null;
  /** Correlates an audit entry with an HTTP request. */
  requestId?: string | null;
}

export interface ListOptions {
  /**
   * The `next_cursor` of the previous page (the id of its last item; items after it come next).
   * Anything else is refused with `VALIDATION_FAILED` (path `cursor`).
   */
  cursor?: string;
  /** 1..1000 (clamped), default 100. */
  limit?: number;
}

export interface RegistryDeps {
  store: Store;
  now: () => number;
  /** Called after every successful write so caches refresh. */
  onChange: () => void;
}

/** How one entity kind differs from the others. */
export interface RegistrySpec<Entity extends { id: string }, Input, Data extends Record<string, unknown>> {
  kind: EntityKind;
  /** The kind its ids are made with; the entity kind unless said otherwise. */
  idKind?: IdKind;
  /** What a create or a patched update must satisfy. */
  inputSchema: z.ZodType<Data, Input>;
  /** The unique key of an entity (slug, name, key), or null. */
  uniqueKey: (data: Data) => string | null;
  /** A human name for messages: "source", "event type"... */
  label: string;
  /** Checks that need the store (references exist, code compiles). Throws PipesError. */
  check?: (data: Data, existing: Entity | null) => Promise<void>;
  /** Fields callers may not write through create/update (e.g. derived ones): refused by name. */
  readonlyFields?: string[];
  /** Turns stored data into the public object. */
  present: (record: EntityRecord) => Entity;
}

export interface Versioned<Entity> {
  version: number;
  created_at: string;
  actor: string | null;
  data: Entity;
}

/**
 * The operations every registry has.
 *
 * @example
 * ```ts
 * const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
 * await pipes.sources.update(source.id, { name: 'Website' });
 * ```
 */
export interface Registry<Entity, Input> {
  create(input: Input, context?: ActorContext): Promise<Entity>;
  /** Throws `NOT_FOUND` when absent. */
  get(id: string): Promise<Entity>;
  list(options?: ListOptions): Promise<{ data: Entity[]; next_cursor: string | null }>;
  /** Applies a patch (fields not given keep their values). */
  update(id: string, patch: Partial<Input>, context?: ActorContext): Promise<Entity>;
  delete(id: string, context?: ActorContext): Promise<void>;
  /** Every version, oldest first. */
  versions(id: string): Promise<Array<Versioned<Entity>>>;
  /** Makes a new version equal to an old one. */
  revert(id: string, version: number, context?: ActorContext): Promise<Entity>;
}

/**
 * Turning an entity with an `enabled` flag (source, destination, pipe, alert channel) on and off.
 *
 * @example
 * ```ts
 * await pipes.pipes.enable(pipe.id); // safe to retry: enabling an enabled pipe changes nothing
 * await pipes.destinations.disable(meta.id, { actor: 'ops' });
 * ```
 */
export interface Switchable<Entity> {
  /**
   * Sets `enabled: true`. Idempotent: when the entity is already enabled it writes nothing (no new
   * version, no audit entry) and resolves with it as it is. Throws `NOT_FOUND`.
   */
  enable(id: string, context?: ActorContext): Promise<Entity>;
  /** Sets `enabled: false`, idempotently like {@link Switchable.enable}. Throws `NOT_FOUND`. */
  disable(id: string, context?: ActorContext): Promise<Entity>;
  /**
   * Sets `enabled` when given (idempotent), flips it when not (a retried flip undoes itself).
   *
   * @deprecated Use `enable(id)` / `disable(id)`; `toggle` stays for the bodiless
   * `PUT .../toggle` route and is removed in a later major version.
   */
  toggle(id: string, enabled?: boolean, context?: ActorContext): Promise<Entity>;
}

/** The {@link Switchable} methods, built on a registry's `toggle` (wrapped, e.g. to add health). */
export function switchable<Entity>(
  toggle: (id: string, enabled: boolean | undefined, context?: ActorContext) => Promise<Entity>,
): Switchable<Entity> {
  return {
    enable: (id, context) => toggle(id, true, context),
    disable: (id, context) => toggle(id, false, context),
    toggle: (id, enabled, context) => toggle(id, enabled, context),
  };
}

/** A registry's public API, and the internals concrete registries build their extras on. */
export interface RegistryParts<Entity, Input, Data> {
  api: Registry<Entity, Input>;
  /** Writes data derived from the stored data (toggle, bind secrets, rotate). */
  write(id: string, mutate: (data: Data) => Data, action: string, context?: ActorContext): Promise<Entity>;
  /**
   * Sets `enabled` (flips it when `enabled` is undefined). Setting the state it already has writes
   * nothing (no new version, no audit entry): `PUT .../toggle {"enabled": true}` is idempotent.
   */
  toggle(id: string, enabled: boolean | undefined, context?: ActorContext): Promise<Entity>;
  /** Inserts already-validated data, optionally under a chosen id. */
  insert(data: Data, context?: ActorContext, id?: string): Promise<Entity>;
  /** The stored record; throws NOT_FOUND. */
  load(id: string): Promise<EntityRecord>;
  /** The entity with this unique key (slug, name, key), or null; text a store cannot take is absent. */
  findByKey(key: string): Promise<Entity | null>;
}

/** The public object of an entity: its data with the record's id, version and times, checked by `schema`. */
export function presenter<Entity>(schema: z.ZodType<Entity>): (record: EntityRecord) => Entity {
  return (record) =>
    schema.parse({
      ...record.data,
      id: record.id,
      version: record.version,
      created_at: record.created_at,
      updated_at: record.updated_at,
    });
}

type Spec<Entity extends { id: string }, Input, Data extends Record<string, unknown>> = RegistrySpec<
  Entity,
  Input,
  Data
>;

/** Like an unknown field, a derived one in an input is refused by name, not silently dropped. */
function refuseReadonly(spec: { readonlyFields?: string[]; label: string }, input: unknown): unknown {
  if (!spec.readonlyFields || input === null || typeof input !== 'object') return input;
  const given = spec.readonlyFields.filter((field) => field in (input as Record<string, unknown>));
  if (given.length > 0) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: `invalid ${spec.label}: ${given.join(', ')}: read-only (OpenPipes sets it)`,
      details: { issues: given.map((path) => ({ path, message: 'read-only (OpenPipes sets it)' })) },
    });
  }
  return input;
}

/** A snapshot's data for a revert: secrets' value metadata and other readonly fields keep their current values. */
function restoredData(
  readonlyFields: string[] | undefined,
  snapshot: Record<string, unknown>,
  current: Record<string, unknown>,
): Record<string, unknown> {
  const restored: Record<string, unknown> = { ...snapshot };
  for (const field of readonlyFields ?? []) restored[field] = current[field];
  return restored;
}

type StoredVersion = Awaited<ReturnType<Store['listEntityVersions']>>[number];

/** Each stored version as the public object it was. */
function presentVersions<Entity>(
  present: (record: EntityRecord) => Entity,
  kind: EntityKind,
  id: string,
  versions: StoredVersion[],
): Array<Versioned<Entity>> {
  return versions.map((v) => ({
    version: v.version,
    created_at: v.created_at,
    actor: v.actor,
    data: present({
      kind,
      id,
      unique_key: null,
      version: v.version,
      data: v.data,
      created_at: v.created_at,
      updated_at: v.created_at,
    }),
  }));
}

/** The registry's writes: load (NOT_FOUND), insert and update a record, each with its audit entry. */
function createRecordWriter<
  Entity extends { id: string; version: number },
  Input,
  Data extends Record<string, unknown>,
>(deps: RegistryDeps, spec: Spec<Entity, Input, Data>) {
  const { store } = deps;
  const idKind = spec.idKind ?? spec.kind;
  const iso = () => new Date(deps.now()).toISOString();

  const load = async (id: string): Promise<EntityRecord> => {
    // Something that is not an id of this kind cannot exist: answered without asking the store,
    // which also keeps text a store cannot take (a NUL) away from its queries.
    const record = isId(idKind, id) ? await store.getEntity({ kind: spec.kind, id }) : null;
    if (!record) throw new PipesError({ code: 'NOT_FOUND', message: `${spec.label} ${id} does not exist` });
    return record;
  };

  const audit = (
    action: string,
    id: string,
    before: Record<string, unknown> | null,
    after: Record<string, unknown> | null,
    context: ActorContext | undefined,
  ): NewAuditEntry => ({
    id: newId('audit', deps.now()),
    actor: context?.actor ?? null,
    action,
    entity_kind: spec.kind,
    entity_id: id,
    before,
    after,
    request_id: context?.requestId ?? null,
    created_at: iso(),
  });

  const writeData = async (
    record: EntityRecord,
    data: Data,
    action: string,
    context: ActorContext | undefined,
  ): Promise<Entity> => {
    const existing = spec.present(record);
    await spec.check?.(data, existing);
    const next: EntityRecord = {
      ...record,
      unique_key: spec.uniqueKey(data),
      data: data as Record<string, unknown>,
      updated_at: iso(),
    };
    await store.updateEntity({
      entity: next,
      expectedVersion: record.version,
      actor: context?.actor ?? null,
      audit: audit(action, record.id, record.data, next.data, context),
    });
    deps.onChange();
    return spec.present({ ...next, version: record.version + 1 });
  };

  const insert = async (data: Data, context?: ActorContext, id?: string): Promise<Entity> => {
    await spec.check?.(data, null);
    const now = iso();
    const record: EntityRecord = {
      kind: spec.kind,
      id: id ?? newId(idKind, deps.now()),
      unique_key: spec.uniqueKey(data),
      version: 1,
      data,
      created_at: now,
      updated_at: now,
    };
    await store.insertEntity({
      entity: record,
      actor: context?.actor ?? null,
      audit: audit('create', record.id, null, data, context),
    });
    deps.onChange();
    return spec.present(record);
  };

  return { load, audit, writeData, insert };
}

export function createRegistry<
  Entity extends { id: string; version: number },
  Input,
  Data extends Record<string, unknown>,
>(deps: RegistryDeps, spec: RegistrySpec<Entity, Input, Data>): RegistryParts<Entity, Input, Data> {
  const { store } = deps;
  const idKind = spec.idKind ?? spec.kind;
  const listOptionsSchema = z.object({ cursor: cursorSchema(idKind).optional() });
  const { load, audit, writeData, insert } = createRecordWriter(deps, spec);

  const api: Registry<Entity, Input> = {
    async create(input, context) {
      return insert(parseOrThrow(spec.inputSchema, refuseReadonly(spec, input), spec.label), context);
    },

    async get(id) {
      return spec.present(await load(id));
    },

    async list(options = {}) {
      parseOrThrow(listOptionsSchema, { cursor: options.cursor }, `${spec.label} list options`);
      const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
      const records = await store.listEntities({ kind: spec.kind, after: options.cursor, limit: limit + 1 });
      const page = records.slice(0, limit);
      return {
        data: page.map(spec.present),
        next_cursor: records.length > limit ? (page[page.length - 1]?.id ?? null) : null,
      };
    },

    async update(id, patch, context) {
      const record = await load(id);
      const merged = { ...record.data, ...(refuseReadonly(spec, patch) as Record<string, unknown>) };
      const data = parseOrThrow(spec.inputSchema, merged, spec.label);
      return writeData(record, data, 'update', context);
    },

    async delete(id, context) {
      const record = await load(id);
      const deleted = await store.deleteEntity({
        kind: spec.kind,
        id,
        audit: audit('delete', id, record.data, null, context),
      });
      if (!deleted)
        throw new PipesError({ code: 'NOT_FOUND', message: `${spec.label} ${id} does not exist` });
      deps.onChange();
    },

    async versions(id) {
      await load(id);
      return presentVersions(
        spec.present,
        spec.kind,
        id,
        await store.listEntityVersions({ kind: spec.kind, id }),
      );
    },

    async revert(id, version, context) {
      const record = await load(id);
      const snapshot = await store.getEntityVersion({ kind: spec.kind, id, version });
      if (!snapshot) {
        throw new PipesError({ code: 'NOT_FOUND', message: `${spec.label} ${id} has no version ${version}` });
      }
      const restored = restoredData(spec.readonlyFields, snapshot.data, record.data);
      const data = parseOrThrow(spec.inputSchema, restored, spec.label);
      return writeData(record, data, `revert:${version}`, context);
    },
  };

  return {
    api,
    insert,
    load,
    async findByKey(key) {
      if (!isStorableText(key)) return null;
      const record = await store.findEntity({ kind: spec.kind, uniqueKey: key });
      return record ? spec.present(record) : null;
    },
    async write(id, mutate, action, context) {
      const record = await load(id);
      return writeData(record, mutate(record.data as Data), action, context);
    },
    async toggle(id, enabled, context) {
      const record = await load(id);
      const current = record.data.enabled === true;
      if (enabled !== undefined && enabled === current) return spec.present(record);
      const next = { ...record.data, enabled: !current } as unknown as Data;
      return writeData(record, next, 'toggle', context);
    },
  };
}
