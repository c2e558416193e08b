/**
 * long-file: store-sqlite is being split by concern (issue 13, stores); marker until then
 *
 * `@openpipes/store-sqlite`: the embedded default store, one SQLite file in WAL mode.
 *
 * better-sqlite3 is synchronous, so every store method runs its statements in one synchronous
 * `BEGIN IMMEDIATE` transaction: nothing else in the process can interleave, and another process
 * on the same file waits on the lock (`busy_timeout`). kysely builds the SQL (typed, compiled once
 * and cached as prepared statements); it never holds a connection of its own.
 */
import {
  type AuditEntry,
  type ClaimedDelivery,
  type DeliveryAttempt,
  type DeliveryDetail,
  type DeliveryRow,
  type DeliveryStatus,
  type EntityRecord,
  type EntityVersionRecord,
  idAtTime,
  PipesError,
  type Store,
  type StoredEvent,
} from '@openpipes/core';
import Database from 'better-sqlite3';
import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
} from 'kysely';
import { backlogMethod } from './backlog.js';
import { migrations } from './migrations.js';
import { secretValueMethods } from './secret-values.js';
import type { DB } from './tables.js';

/** The part of a better-sqlite3 `Database` the store uses (so callers may pass their own). */
export interface SqliteDatabase {
  prepare(source: string): {
    run(...params: unknown[]): { changes: number };
    all(...params: unknown[]): unknown[];
    get(...params: unknown[]): unknown;
  };
  exec(source: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<F extends (...args: never[]) => unknown>(fn: F): F & { immediate: F };
  close(): unknown;
  readonly open: boolean;
}

export interface SqliteStoreOptions {
  /** Path of the database file (created if missing), or `:memory:`. */
  filename?: string;
  /** An open better-sqlite3 database (instead of `filename`), or a factory for one. */
  database?: SqliteDatabase | (() => SqliteDatabase);
  /**
   * `NORMAL` (default) survives a crash of the process, which is what "an accepted event is
   * durable" promises; `FULL` also survives power loss at the cost of an fsync per write.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a writer waits for another process's lock, ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * A store on one SQLite file.
 *
 * @example
 * ```ts
 * import { createPipes } from '@openpipes/core';
 * import { sqliteStore } from '@openpipes/store-sqlite';
 *
 * const pipes = createPipes({ store: sqliteStore({ filename: './openpipes.db' }), secretKey });
 * ```
 */
export function sqliteStore(options: SqliteStoreOptions = {}): Store {
  let handle: SqliteDatabase | null = null;
  let closed = false;
  const db = (): SqliteDatabase => {
    if (closed) throw new PipesError({ code: 'ENGINE_STOPPED', message: 'the SQLite store is closed' });
    if (handle) return handle;
    const opened =
      typeof options.database === 'function'
        ? options.database()
        : (options.database ??
          (new Database(options.filename ?? './openpipes.db') as unknown as SqliteDatabase));
    opened.pragma('journal_mode = WAL');
    opened.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    opened.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    handle = opened;
    return opened;
  };

  // kysely compiles queries; better-sqlite3 runs them.
  const qb = new Kysely<DB>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (k) => new SqliteIntrospector(k),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
  const statements = new Map<string, ReturnType<SqliteDatabase['prepare']>>();
  const prepare = (text: string) => {
    let statement = statements.get(text);
    if (!statement) {
      // IN (...) lists of every length make distinct statements; keep the cache bounded.
      if (statements.size >= 1000) statements.clear();
      statement = db().prepare(text);
      statements.set(text, statement);
    }
    return statement;
  };
  const all = <R>(query: { compile(): CompiledQuery<R> }): R[] => {
    const compiled = query.compile();
    return prepare(compiled.sql).all(...compiled.parameters) as R[];
  };
  const first = <R>(query: { compile(): CompiledQuery<R> }): R | undefined => {
    const compiled = query.compile();
    return prepare(compiled.sql).get(...compiled.parameters) as R | undefined;
  };
  const run = (query: { compile(): CompiledQuery<unknown> }): number => {
    const compiled = query.compile();
    return prepare(compiled.sql).run(...compiled.parameters).changes;
  };
  /** Runs `fn` in a BEGIN IMMEDIATE transaction. */
  const tx = <T>(fn: () => T): T => db().transaction(fn).immediate();

  const bumpRevision = () =>
    run(
      qb
        .updateTable('meta')
        .set({ value: sql`CAST(value AS INTEGER) + 1` })
        .where('key', '=', 'config_revision'),
    );

  const insertAudit = (entry: AuditEntry | undefined) => {
    if (!entry) return;
    run(
      qb.insertInto('audit').values({
        id: entry.id,
        actor: entry.actor,
        action: entry.action,
        entity_kind: entry.entity_kind,
        entity_id: entry.entity_id,
        before: entry.before === null ? null : JSON.stringify(entry.before),
        after: entry.after === null ? null : JSON.stringify(entry.after),
        request_id: entry.request_id,
        created_at: entry.created_at,
      }),
    );
  };

  const isUniqueViolation = (err: unknown) =>
    err instanceof Error && /UNIQUE constraint failed/.test(err.message);

  const toEntity = (row: DB['entities']): EntityRecord => ({
    kind: row.kind as EntityRecord['kind'],
    id: row.id,
    unique_key: row.unique_key,
    version: row.version,
    data: JSON.parse(row.data),
    created_at: row.created_at,
    updated_at: row.updated_at,
  });

  const toDelivery = (row: DB['deliveries']): DeliveryRow => ({
    id: row.id,
    event_ref: row.event_ref,
    source_id: row.source_id,
    pipe_id: row.pipe_id,
    destination_id: row.destination_id,
    event_id: row.event_id,
    event_type: row.event_type,
    status: row.status as DeliveryStatus,
    attempt_count: row.attempt_count,
    pipe_version: row.pipe_version,
    destination_version: row.destination_version,
    pinned_pipe_version: row.pinned_pipe_version,
    replayed_at: row.replayed_at,
    attempts_before_replay: row.attempts_before_replay,
    test_mode: row.test_mode === 1,
    next_attempt_at: row.status === 'retrying' ? row.due_at : null,
    lease_owner: row.lease_owner,
    lease_expires_at: row.status === 'sending' ? row.due_at : null,
    created_at: row.created_at,
    updated_at: row.updated_at,
    delivered_at: row.delivered_at,
    detail: JSON.parse(row.detail) as DeliveryDetail,
  });

  const emptyDetail = JSON.stringify({ output: null, request: null, response: null, error: null });

  const store: Store = {
    dialect: 'sqlite',

    async migrate() {
      const database = db();
      database.exec(
        'CREATE TABLE IF NOT EXISTS openpipes_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
      for (const migration of migrations) {
        tx(() => {
          const applied = database
            .prepare('SELECT 1 FROM openpipes_migrations WHERE version = ?')
            .get(migration.version);
          if (applied) return;
          database.exec(migration.sql);
          database
            .prepare('INSERT INTO openpipes_migrations (version, name, applied_at) VALUES (?, ?, ?)')
            .run(migration.version, migration.name, new Date().toISOString());
        });
      }
    },

    async migrationStatus() {
      const database = db();
      const latest = migrations[migrations.length - 1]!.version;
      // Read only: an empty database has no migrations table yet, and this must not create it.
      const table = database
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'openpipes_migrations'")
        .get();
      if (!table) return { applied: 0, latest };
      const row = database.prepare('SELECT max(version) AS version FROM openpipes_migrations').get() as {
        version: number | null;
      };
      return { applied: row.version ?? 0, latest };
    },

    async close() {
      if (closed) return;
      closed = true;
      statements.clear();
      if (handle?.open) handle.close();
      handle = null;
    },

    async insertEntity({ entity, actor, audit }) {
      try {
        tx(() => {
          run(
            qb.insertInto('entities').values({
              id: entity.id,
              kind: entity.kind,
              unique_key: entity.unique_key,
              version: 1,
              data: JSON.stringify(entity.data),
              created_at: entity.created_at,
              updated_at: entity.updated_at,
            }),
          );
          run(
            qb.insertInto('entity_versions').values({
              id: entity.id,
              kind: entity.kind,
              version: 1,
              data: JSON.stringify(entity.data),
              actor,
              created_at: entity.updated_at,
            }),
          );
          insertAudit(audit);
          bumpRevision();
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new PipesError({
            code: 'CONFLICT',
            message: `a ${entity.kind.replace('_', ' ')} with ${entity.unique_key === null ? `id ${entity.id}` : `"${entity.unique_key}"`} already exists`,
            cause: err,
          });
        }
        throw err;
      }
    },

    async updateEntity({ entity, expectedVersion, actor, audit }) {
      try {
        tx(() => {
          const changed = run(
            qb
              .updateTable('entities')
              .set({
                unique_key: entity.unique_key,
                version: expectedVersion + 1,
                data: JSON.stringify(entity.data),
                updated_at: entity.updated_at,
              })
              .where('id', '=', entity.id)
              .where('kind', '=', entity.kind)
              .where('version', '=', expectedVersion),
          );
          if (changed === 0) {
            const exists = first(qb.selectFrom('entities').select('version').where('id', '=', entity.id));
            throw exists
              ? new PipesError({
                  code: 'CONFLICT',
                  message: `${entity.kind} ${entity.id} was changed concurrently (now version ${exists.version}); retry`,
                })
              : new PipesError({ code: 'NOT_FOUND', message: `${entity.kind} ${entity.id} does not exist` });
          }
          run(
            qb.insertInto('entity_versions').values({
              id: entity.id,
              kind: entity.kind,
              version: expectedVersion + 1,
              data: JSON.stringify(entity.data),
              actor,
              created_at: entity.updated_at,
            }),
          );
          insertAudit(audit);
          bumpRevision();
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new PipesError({
            code: 'CONFLICT',
            message: `a ${entity.kind.replace('_', ' ')} with "${entity.unique_key}" already exists`,
            cause: err,
          });
        }
        throw err;
      }
    },

    async deleteEntity({ kind, id, audit }) {
      return tx(() => {
        const changed = run(qb.deleteFrom('entities').where('id', '=', id).where('kind', '=', kind));
        if (changed === 0) return false;
        if (kind === 'secret') run(qb.deleteFrom('secret_values').where('secret_id', '=', id));
        insertAudit(audit);
        bumpRevision();
        return true;
      });
    },

    async getEntity({ kind, id }) {
      const row = first(qb.selectFrom('entities').selectAll().where('id', '=', id).where('kind', '=', kind));
      return row ? toEntity(row) : null;
    },

    async findEntity({ kind, uniqueKey }) {
      const row = first(
        qb.selectFrom('entities').selectAll().where('kind', '=', kind).where('unique_key', '=', uniqueKey),
      );
      return row ? toEntity(row) : null;
    },

    async listEntities({ kind, after, limit }) {
      let query = qb.selectFrom('entities').selectAll().where('kind', '=', kind);
      if (after) query = query.where('id', '>', after);
      return all(query.orderBy('id').limit(limit)).map(toEntity);
    },

    async listEntityVersions({ kind, id }) {
      return all(
        qb
          .selectFrom('entity_versions')
          .selectAll()
          .where('id', '=', id)
          .where('kind', '=', kind)
          .orderBy('version'),
      ).map(toVersion);
    },

    async getEntityVersion({ kind, id, version }) {
      const row = first(
        qb
          .selectFrom('entity_versions')
          .selectAll()
          .where('id', '=', id)
          .where('kind', '=', kind)
          .where('version', '=', version),
      );
      return row ? toVersion(row) : null;
    },

    async configRevision() {
      const row = first(qb.selectFrom('meta').select('value').where('key', '=', 'config_revision'));
      return Number(row?.value ?? 0);
    },

    ...secretValueMethods({ qb, all, run, tx, insertAudit }),
    ...backlogMethod({ qb, all }),

    async appendEvents({ sourceId, events, pipes, deliveryIds, dedupSince, now }) {
      if (deliveryIds.length !== events.length * pipes.length) {
        throw new PipesError({
          code: 'INTERNAL',
          message: `appendEvents needs ${events.length * pipes.length} delivery ids, got ${deliveryIds.length}`,
        });
      }
      const insertEvent = prepare(
        'INSERT INTO events (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      const insertDelivery = prepare(
        `INSERT INTO deliveries (id, event_ref, source_id, pipe_id, destination_id, event_id, event_type, status, attempt_count, test_mode, due_at, created_at, updated_at, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, ?, ?)`,
      );
      const findDuplicate = prepare(
        'SELECT id FROM events WHERE source_id = ? AND event_id = ? AND sender_event_id = 1 AND received_at >= ? LIMIT 1',
      );
      return tx(() => {
        const seen = new Map<string, string>();
        return events.map((event, i) => {
          if (dedupSince !== null && event.sender_event_id) {
            const earlier =
              seen.get(event.event_id) ??
              (findDuplicate.get(sourceId, event.event_id, dedupSince) as { id: string } | undefined)?.id;
            if (earlier) return { duplicate: true, id: earlier };
            seen.set(event.event_id, event.id);
          }
          insertEvent.run(
            event.id,
            sourceId,
            event.event_id,
            event.sender_event_id ? 1 : 0,
            event.event_type,
            event.event_time,
            JSON.stringify(event.event_payload),
            now,
          );
          pipes.forEach((pipe, p) => {
            insertDelivery.run(
              deliveryIds[i * pipes.length + p],
              event.id,
              sourceId,
              pipe.pipe_id,
              pipe.destination_id,
              event.event_id,
              event.event_type,
              now,
              now,
              now,
              emptyDetail,
            );
          });
          return { duplicate: false, id: event.id };
        });
      });
    },

    async claimDeliveries({ destinationId, pipeIds, owner, limit, leaseMs, now }) {
      if (pipeIds.length === 0 || limit <= 0) return [];
      const leaseUntil = new Date(Date.parse(now) + leaseMs).toISOString();
      return tx(() => {
        const rows = all(
          qb
            .selectFrom('deliveries as d')
            .innerJoin('events as e', 'e.id', 'd.event_ref')
            .selectAll('d')
            .select(['e.event_time', 'e.payload'])
            .where('d.destination_id', '=', destinationId)
            .where('d.due_at', 'is not', null)
            .where('d.due_at', '<=', now)
            .where('d.pipe_id', 'in', pipeIds)
            .orderBy('d.due_at')
            .orderBy('d.id')
            .limit(limit),
        );
        if (rows.length === 0) return [];
        const ids = rows.map((r) => r.id);
        run(
          qb
            .updateTable('deliveries')
            .set({ status: 'sending', lease_owner: owner, due_at: leaseUntil, updated_at: now })
            .where('id', 'in', ids),
        );
        return rows.map(
          (row): ClaimedDelivery => ({
            ...toDelivery({
              ...row,
              status: 'sending',
              lease_owner: owner,
              due_at: leaseUntil,
              updated_at: now,
            }),
            event: {
              event_type: row.event_type,
              event_time: row.event_time,
              event_payload: JSON.parse(row.payload),
            },
          }),
        );
      });
    },

    async completeDeliveries({ owner, outcomes, now }) {
      const applied: string[] = [];
      const lost: string[] = [];
      const update = prepare(
        `UPDATE deliveries SET status = ?, attempt_count = attempt_count + ?, pipe_version = ?, destination_version = ?,
           test_mode = ?, due_at = ?, lease_owner = NULL, updated_at = ?, delivered_at = ?, detail = ?
         WHERE id = ? AND status = 'sending' AND lease_owner = ?`,
      );
      const insertAttempt = prepare(
        `INSERT INTO delivery_attempts (delivery_id, number, data) VALUES (?, ?, ?)
         ON CONFLICT (delivery_id, number) DO UPDATE SET data = excluded.data`,
      );
      tx(() => {
        for (const outcome of outcomes) {
          const changed = update.run(
            outcome.status,
            outcome.attempt ? 1 : 0,
            outcome.pipe_version,
            outcome.destination_version,
            outcome.test_mode ? 1 : 0,
            outcome.status === 'retrying' ? outcome.next_attempt_at : null,
            now,
            outcome.delivered_at,
            JSON.stringify(outcome.detail),
            outcome.id,
            owner,
          ).changes;
          if (changed === 0) {
            lost.push(outcome.id);
            continue;
          }
          applied.push(outcome.id);
          if (outcome.attempt) {
            insertAttempt.run(outcome.id, outcome.attempt.number, JSON.stringify(outcome.attempt));
          }
        }
      });
      return { applied, lost };
    },

    async extendLeases({ owner, ids, until }) {
      if (ids.length === 0) return 0;
      return run(
        qb
          .updateTable('deliveries')
          .set({ due_at: until })
          .where('id', 'in', ids)
          .where('status', '=', 'sending')
          .where('lease_owner', '=', owner),
      );
    },

    async releaseDeliveries({ owner, ids, now }) {
      if (ids.length === 0) return;
      run(
        qb
          .updateTable('deliveries')
          .set({ status: 'pending', lease_owner: null, due_at: now, updated_at: now })
          .where('id', 'in', ids)
          .where('status', '=', 'sending')
          .where('lease_owner', '=', owner),
      );
    },

    async getEvent({ id }) {
      const row = first(qb.selectFrom('events').selectAll().where('id', '=', id));
      if (!row) return null;
      const event: StoredEvent = {
        id: row.id,
        source_id: row.source_id,
        event_id: row.event_id,
        event_type: row.event_type,
        event_time: row.event_time,
        event_payload: JSON.parse(row.payload),
        received_at: row.received_at,
      };
      return event;
    },

    async listDeliveries(query) {
      let q = qb.selectFrom('deliveries').selectAll();
      if (query.pipeId) q = q.where('pipe_id', '=', query.pipeId);
      if (query.destinationId) q = q.where('destination_id', '=', query.destinationId);
      if (query.status !== undefined) {
        const statuses = Array.isArray(query.status) ? query.status : [query.status];
        q = q.where('status', 'in', statuses);
      }
      if (query.eventId) q = q.where('event_id', '=', query.eventId);
      // Delivery ids are ULIDs made at creation, so a time range is an id range (no time index).
      if (query.since) q = q.where('id', '>=', idAtTime('delivery', Date.parse(query.since)));
      if (query.until) q = q.where('id', '<', idAtTime('delivery', Date.parse(query.until)));
      if (query.cursor) q = q.where('id', '<', query.cursor);
      return all(q.orderBy('id', 'desc').limit(query.limit)).map(toDelivery);
    },

    async getDelivery({ id }) {
      const row = first(qb.selectFrom('deliveries').selectAll().where('id', '=', id));
      if (!row) return null;
      const attempts = all(
        qb.selectFrom('delivery_attempts').select('data').where('delivery_id', '=', id).orderBy('number'),
      ).map((a) => JSON.parse(a.data) as DeliveryAttempt);
      return { row: toDelivery(row), attempts };
    },

    async requeueDeliveries({ pipeId, ids, statuses, since, until, pinnedPipeVersion, now, limit }) {
      return tx(() => {
        let q = qb
          .selectFrom('deliveries')
          .select('id')
          .where('pipe_id', '=', pipeId)
          .where('status', 'in', statuses ?? ['failed', 'dead']);
        if (ids) q = q.where('id', 'in', ids.length > 0 ? ids : ['']);
        if (since) q = q.where('id', '>=', idAtTime('delivery', Date.parse(since)));
        if (until) q = q.where('id', '<', idAtTime('delivery', Date.parse(until)));
        const found = all(q.orderBy('id').limit(limit)).map((r) => r.id);
        if (found.length === 0) return [];
        run(
          qb
            .updateTable('deliveries')
            .set({
              status: 'pending',
              due_at: now,
              lease_owner: null,
              pinned_pipe_version: pinnedPipeVersion ?? null,
              replayed_at: now,
              attempts_before_replay: sql<number>`attempt_count`,
              updated_at: now,
            })
            .where('id', 'in', found),
        );
        return found;
      });
    },

    async expediteRetries({ destinationId, now }) {
      return run(
        qb
          .updateTable('deliveries')
          .set({ due_at: now })
          .where('destination_id', '=', destinationId)
          .where('status', '=', 'retrying')
          .where('due_at', '>', now),
      );
    },

    async nextRetryAt({ destinationId }) {
      const row = first(
        qb
          .selectFrom('deliveries')
          .select((eb) => eb.fn.min('due_at').as('due'))
          .where('destination_id', '=', destinationId)
          .where('due_at', 'is not', null)
          .where('status', '=', 'retrying'),
      );
      return (row?.due as string | null | undefined) ?? null;
    },

    async deliveryStats() {
      return all(
        qb
          .selectFrom('deliveries')
          .select((eb) => [
            'destination_id',
            'pipe_id',
            'status',
            eb.fn.countAll<number>().as('count'),
            eb.fn.min('created_at').as('oldest_created_at'),
          ])
          .groupBy(['destination_id', 'pipe_id', 'status'])
          .orderBy('destination_id')
          .orderBy('pipe_id')
          .orderBy('status'),
      ).map((r) => ({
        destination_id: r.destination_id,
        pipe_id: r.pipe_id,
        status: r.status as DeliveryStatus,
        count: Number(r.count),
        oldest_created_at: (r.oldest_created_at as string | null) ?? null,
      }));
    },

    async prune({ before, limit }) {
      return tx(() => {
        // Event ids are ULIDs made on receipt: "received before" is "id below the first id at that time".
        const eventIds = all(
          qb
            .selectFrom('events')
            .select('id')
            .where('id', '<', idAtTime('event', Date.parse(before)))
            .orderBy('id')
            .limit(limit),
        ).map((r) => r.id);
        let deliveries = 0;
        if (eventIds.length > 0) {
          const deliveryIds = all(
            qb.selectFrom('deliveries').select('id').where('event_ref', 'in', eventIds),
          ).map((r) => r.id);
          if (deliveryIds.length > 0) {
            run(qb.deleteFrom('delivery_attempts').where('delivery_id', 'in', deliveryIds));
            deliveries = run(qb.deleteFrom('deliveries').where('id', 'in', deliveryIds));
          }
          run(qb.deleteFrom('events').where('id', 'in', eventIds));
        }
        return { events: eventIds.length, deliveries };
      });
    },

    async appendAudit({ entry }) {
      insertAudit(entry);
    },

    async listAudit(query) {
      let q = qb.selectFrom('audit').selectAll();
      if (query.entityKind) q = q.where('entity_kind', '=', query.entityKind);
      if (query.entityId) q = q.where('entity_id', '=', query.entityId);
      if (query.actor) q = q.where('actor', '=', query.actor);
      if (query.since) q = q.where('created_at', '>=', query.since);
      if (query.until) q = q.where('created_at', '<', query.until);
      if (query.cursor) q = q.where('id', '<', query.cursor);
      return all(q.orderBy('id', 'desc').limit(query.limit)).map(
        (row): AuditEntry => ({
          id: row.id,
          actor: row.actor,
          action: row.action,
          entity_kind: row.entity_kind,
          entity_id: row.entity_id,
          before: row.before === null ? null : JSON.parse(row.before),
          after: row.after === null ? null : JSON.parse(row.after),
          request_id: row.request_id,
          created_at: row.created_at,
        }),
      );
    },

    async getState({ key }) {
      const row = first(qb.selectFrom('state').select('value').where('key', '=', key));
      return row ? JSON.parse(row.value) : null;
    },

    async setState({ key, value, now }) {
      if (value === null) {
        run(qb.deleteFrom('state').where('key', '=', key));
        return;
      }
      const text = JSON.stringify(value);
      run(
        qb
          .insertInto('state')
          .values({ key, value: text, updated_at: now })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: text, updated_at: now })),
      );
    },
  };
  return withStorageErrors(store);
}

/**
 * A full disk is a condition of the machine, not a bug: every store method that hits SQLITE_FULL
 * rejects with STORAGE_FULL (HTTP 507, retryable). The failing transaction was rolled back, so
 * nothing of the call was stored; the engine works again as soon as space is freed.
 */
function withStorageErrors(store: Store): Store {
  const wrapped: Record<string, unknown> = { ...store };
  for (const [name, method] of Object.entries(store)) {
    if (typeof method !== 'function') continue;
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (method as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      } catch (err) {
        if ((err as { code?: unknown } | null)?.code === 'SQLITE_FULL') {
          throw new PipesError({
            code: 'STORAGE_FULL',
            message: `the SQLite store's disk is full (${(err as Error).message}); nothing was stored: free space and try again`,
            retryable: true,
            cause: err,
          });
        }
        throw err;
      }
    };
  }
  return wrapped as unknown as Store;
}

function toVersion(row: DB['entity_versions']): EntityVersionRecord {
  return {
    kind: row.kind as EntityVersionRecord['kind'],
    id: row.id,
    version: row.version,
    data: JSON.parse(row.data),
    actor: row.actor,
    created_at: row.created_at,
  };
}
