/**
 * Events on SQLite: ingest (`appendEvents`: dedup, the events and one pending delivery per pipe, in
 * one transaction, through prepared statements, with identity's links of the stored events when
 * the engine gives them; the pipes' new pending deliveries counted once per call, `tallies.ts`) and
 * reading events back (one, or a source's newest).
 */
import {
  checkDeliveryIds,
  type EventMethods,
  emptyDetailJson,
  toStoredEvent,
} from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';
import { groupCommit } from './group-commit.js';
import { draftNewPerson, type NewPersonDraft } from './new-profiles.js';
import { columnsOf } from './prepared.js';
import { indexSql, linkWriter } from './profiles.js';
import { tally } from './tallies.js';

const E = columnsOf('events');
const D = columnsOf('deliveries');
// Ingest's statements: raw and positional for speed (see prepared.ts), columns checked.
const insertEventSql = `INSERT INTO events (${E('id', 'source_id', 'event_id', 'sender_event_id', 'event_type', 'event_time', 'payload', 'received_at', 'trace_parent')})
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const insertDeliverySql = `INSERT INTO deliveries (${D('id', 'event_ref', 'source_id', 'pipe_id', 'destination_id', 'event_id', 'event_type', 'status', 'attempt_count', 'test_mode', 'due_at', 'created_at', 'updated_at', 'detail', 'trace_parent')})
  VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, ?, ?, ?)`;
// sender_event_id = 1 is a literal so that SQLite may use the partial index events_dedup.
const findDuplicateSql = `SELECT ${E('id')} FROM events
  WHERE ${E('source_id')} = ? AND ${E('event_id')} = ? AND ${E('sender_event_id')} = 1 AND ${E('received_at')} >= ? LIMIT 1`;

type AppendArgs = Parameters<EventMethods['appendEvents']>[0];
type AppendResult = Awaited<ReturnType<EventMethods['appendEvents']>>;
type Link = NonNullable<AppendArgs['identity']>['links'][number];

/**
 * A call with what depends on its input alone worked out before its write transaction (see
 * {@link drafted}): the events' payloads as JSON, in order, and each link's writes as a new
 * person's.
 */
interface Drafted {
  args: AppendArgs;
  payloads: string[];
  drafts: Map<Link, NewPersonDraft> | undefined;
}

/**
 * The pure part of a call, done as it is made rather than in the group's write transaction: that
 * transaction holds the write turn, which the dispatch thread waits for (docs/deployment.md, "A
 * shorter ingest transaction"). A payload that cannot be made JSON now fails its own call before
 * any write, as it failed only that call in the transaction.
 */
function drafted(args: AppendArgs): Drafted {
  const payloads = args.events.map((event) => JSON.stringify(event.event_payload));
  const identity = args.identity;
  if (!identity) return { args, payloads, drafts: undefined };
  const drafts = new Map<Link, NewPersonDraft>();
  for (const link of identity.links) {
    if (link.identifiers.length > 0) drafts.set(link, draftNewPerson(link, identity.caps));
  }
  return { args, payloads, drafts };
}

/** The store's event methods. Ingest commits in groups ({@link groupCommit}). */
export function eventMethods(context: SqliteContext): EventMethods {
  const { db, qb, all, first, prepare, tx } = context;
  const { linkAll } = linkWriter(context);
  const append = ({ args, payloads, drafts }: Drafted): AppendResult => {
    const results = appendEventsOnly(args, payloads);
    if (args.identity) writeIdentity(args.identity, results, drafts);
    return results;
  };

  /** Identity's writes for the events this call stored (not its duplicates), in its transaction. */
  const writeIdentity = (
    identity: NonNullable<AppendArgs['identity']>,
    results: AppendResult,
    drafts: Drafted['drafts'],
  ) => {
    const stored = new Set(results.filter((r) => !r.duplicate).map((r) => r.id));
    const index = prepare(indexSql);
    for (const e of identity.index) if (stored.has(e.event_ref)) index.run(e.kind, e.key, e.event_ref);
    const links = identity.links.filter((l) => l.event_ref !== undefined && stored.has(l.event_ref));
    if (links.length > 0)
      linkAll({ links, caps: identity.caps, newId: identity.newId, now: identity.now }, 'own', drafts);
  };

  const appendEventsOnly = (
    { sourceId, events, pipes, deliveryIds, dedupSince, now }: AppendArgs,
    payloads: string[],
  ): AppendResult => {
    const insertEvent = prepare(insertEventSql);
    const insertDelivery = prepare(insertDeliverySql);
    const findDuplicate = prepare(findDuplicateSql);
    const seen = new Map<string, string>();
    let stored = 0;
    const results = events.map((event, i) => {
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
        payloads[i],
        now,
        event.trace_parent ?? null,
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
          emptyDetailJson,
          event.trace_parent ?? null,
        );
      });
      stored++;
      return { duplicate: false, id: event.id };
    });
    // Each pipe's new deliveries, counted in its minute as pending (migration 14: not per row).
    const counts = tally(context, now);
    for (const pipe of pipes) counts.entered(pipe.pipe_id, pipe.destination_id, 'pending', stored);
    counts.write();
    return results;
  };

  // While the dispatch thread holds the write turn, the group stays open (afterWriteTurn): the
  // calls made meanwhile share its transaction and its commit.
  const appendInGroup = groupCommit(
    { tx, inTransaction: () => db().inTransaction, afterWriteTurn: context.afterWriteTurn },
    append,
  );

  return {
    async appendEvents(args) {
      checkDeliveryIds(args);
      return appendInGroup(drafted(args));
    },

    async getEvent({ id }) {
      const row = first(qb.selectFrom('events').selectAll().where('id', '=', id));
      return row ? toStoredEvent(row) : null;
    },

    async listEvents({ sourceId, cursor, limit }) {
      let query = qb
        .selectFrom('events')
        .selectAll()
        .where('source_id', '=', sourceId)
        .orderBy('id', 'desc')
        .limit(limit);
      if (cursor !== undefined) query = query.where('id', '<', cursor);
      return all(query).map(toStoredEvent);
    },

    async scanEvents({ after, limit }) {
      let query = qb.selectFrom('events').selectAll().orderBy('id').limit(limit);
      if (after !== undefined) query = query.where('id', '>', after);
      return all(query).map(toStoredEvent);
    },
  };
}
