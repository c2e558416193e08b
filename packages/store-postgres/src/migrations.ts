/**
 * long-file: the schema's history, one migration after another, appended and never edited once released
 *
 * The PostgreSQL schema, as numbered migrations. A migration never changes once released; new ones
 * are appended. `migrate()` (`migrate.ts`) runs each pending one in its own transaction, holding an
 * advisory lock keyed on the schema name for the whole run, with `search_path` set to that schema:
 * the SQL below names its tables without a schema.
 *
 * Choices, and why:
 * - Times are `timestamptz` (8 bytes, range-indexable, readable when you query the tables
 *   yourself). The store writes the engine's ISO strings, which have millisecond precision, so they
 *   come back identical although PostgreSQL keeps microseconds.
 * - Configuration (entities, versions, audit, state) is `jsonb`: small documents an operator may
 *   want to query with containment operators.
 * - Event payloads, delivery details and attempts are `json`, not `jsonb`: they carry bytes from
 *   outside (senders, destinations' answers), are written once and read whole, never queried inside
 *   by the store. `json` keeps them byte for byte (key order included, so a transform sees the
 *   sender's key order on both stores), costs less to write, and accepts `\u0000` escapes, which
 *   `jsonb` rejects: one odd byte in a destination's answer must not make a delivery unrecordable.
 *   The `->` / `->>` operators work on both.
 * - Ids are `text COLLATE "C"`: ULIDs compare bytewise, the same order as JavaScript's sort.
 * - Deliveries carry `due_at`, the one column claims read: pending → when created, retrying → the
 *   next attempt, sending → when the lease expires, NULL once final. A partial index over the
 *   non-NULL rows stays as small as the live backlog however long the history grows.
 * - No foreign keys between the history tables: every write path already keeps them consistent in
 *   one transaction, and pruning deletes children first; FK checks would tax the hottest writes.
 */
/**
 * One schema step. Exported so teams that manage schemas with their own tooling can read the SQL
 * (it names tables without a schema: run it with `search_path` set to yours).
 *
 * @example
 * ```ts
 * import { migrations } from '@openpipes/store-postgres';
 * for (const m of migrations) console.log(m.version, m.name);
 * ```
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE meta (
  key text PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO meta (key, value) VALUES ('config_revision', 0);

CREATE TABLE entities (
  id text COLLATE "C" PRIMARY KEY,
  kind text NOT NULL,
  unique_key text,
  version integer NOT NULL,
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX entities_unique_key ON entities (kind, unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX entities_kind ON entities (kind, id);

CREATE TABLE entity_versions (
  id text COLLATE "C" NOT NULL,
  kind text NOT NULL,
  version integer NOT NULL,
  data jsonb NOT NULL,
  actor text,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (id, version)
);

CREATE TABLE secret_values (
  secret_id text COLLATE "C" PRIMARY KEY,
  ciphertext text NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE events (
  id text COLLATE "C" PRIMARY KEY,
  source_id text COLLATE "C" NOT NULL,
  event_id text NOT NULL,
  sender_event_id boolean NOT NULL,
  event_type text NOT NULL,
  event_time timestamptz NOT NULL,
  payload json NOT NULL,
  received_at timestamptz NOT NULL
);
CREATE INDEX events_received_at ON events (received_at);

-- The latest stored event per (source, sender event id). Deduplication upserts here, so two
-- processes receiving the same event_id at the same moment cannot both store it.
CREATE TABLE event_dedup (
  source_id text COLLATE "C" NOT NULL,
  event_id text NOT NULL,
  event_ref text COLLATE "C" NOT NULL,
  received_at timestamptz NOT NULL,
  PRIMARY KEY (source_id, event_id)
);

CREATE TABLE deliveries (
  id text COLLATE "C" PRIMARY KEY,
  event_ref text COLLATE "C" NOT NULL,
  source_id text COLLATE "C" NOT NULL,
  pipe_id text COLLATE "C" NOT NULL,
  destination_id text COLLATE "C" NOT NULL,
  event_id text NOT NULL,
  event_type text NOT NULL,
  status text NOT NULL
    CHECK (status IN ('pending', 'sending', 'retrying', 'delivered', 'filtered', 'failed', 'dead')),
  attempt_count integer NOT NULL DEFAULT 0,
  pipe_version integer,
  destination_version integer,
  pinned_pipe_version integer,
  replayed_at timestamptz,
  attempts_before_replay integer NOT NULL DEFAULT 0,
  test_mode boolean NOT NULL DEFAULT false,
  due_at timestamptz,
  lease_owner text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  delivered_at timestamptz,
  detail json NOT NULL
);
-- Claims and nextRetryAt: only live rows (due_at NOT NULL) are in it.
CREATE INDEX deliveries_due ON deliveries (destination_id, due_at, id) WHERE due_at IS NOT NULL;
-- Delivery history: a pipe's newest first; by status; by time window; by the sender's event id.
CREATE INDEX deliveries_pipe ON deliveries (pipe_id, id);
CREATE INDEX deliveries_pipe_status ON deliveries (pipe_id, status, id);
CREATE INDEX deliveries_pipe_created ON deliveries (pipe_id, created_at) INCLUDE (id);
CREATE INDEX deliveries_event_id ON deliveries (event_id);
-- Pruning finds an event's deliveries.
CREATE INDEX deliveries_event_ref ON deliveries (event_ref);

-- Running totals of the final statuses (delivered, filtered, failed, dead) per destination and
-- pipe, so stats() does not count the whole history. Every statement that moves a delivery into or
-- out of a final status (complete, replay, prune) moves these in the same statement. 16 slots per
-- group spread concurrent writers; readers sum them.
CREATE TABLE delivery_totals (
  destination_id text COLLATE "C" NOT NULL,
  pipe_id text COLLATE "C" NOT NULL,
  status text NOT NULL,
  slot smallint NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (destination_id, pipe_id, status, slot)
);

CREATE TABLE delivery_attempts (
  delivery_id text COLLATE "C" NOT NULL,
  number integer NOT NULL,
  data json NOT NULL,
  PRIMARY KEY (delivery_id, number)
);

CREATE TABLE audit (
  id text COLLATE "C" PRIMARY KEY,
  actor text,
  action text NOT NULL,
  entity_kind text NOT NULL,
  entity_id text COLLATE "C" NOT NULL,
  before jsonb,
  after jsonb,
  request_id text,
  created_at timestamptz NOT NULL
);
CREATE INDEX audit_entity ON audit (entity_kind, entity_id, id);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_created_at ON audit (created_at);

CREATE TABLE state (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'retired secret values',
    sql: `
-- Values that were replaced (rotation) or whose secret was deleted: kept encrypted, used only to
-- redact, destroyed by retention once the history that could hold them is gone.
CREATE TABLE retired_secret_values (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  secret_id text COLLATE "C" NOT NULL,
  key text NOT NULL,
  ciphertext text NOT NULL,
  retired_at timestamptz NOT NULL
);
CREATE INDEX retired_secret_values_retired_at ON retired_secret_values (retired_at);
`,
  },
  {
    version: 3,
    name: 'event volume and trace context',
    sql: `
-- Accepted events per minute, source and event type: the "usual level" volume alerts compare
-- against. Each process adds what it counted once a minute (additive, so processes sum up, and no
-- ingest transaction ever waits on a counter row).
CREATE TABLE event_volume (
  minute timestamptz NOT NULL,
  source_id text COLLATE "C" NOT NULL,
  event_type text NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (minute, source_id, event_type)
);
-- The W3C traceparent of the request that ingested the event (null without an active trace).
ALTER TABLE events ADD COLUMN trace_parent text;
ALTER TABLE deliveries ADD COLUMN trace_parent text;
`,
  },
  {
    version: 4,
    name: 'per-minute delivery rollup',
    sql: `
-- How many deliveries of each pipe (and its destination) entered each status, per minute: the
-- console's and the API's counts over time, read without counting the history. Statement-level
-- triggers keep it, so every statement that creates deliveries or changes their status updates it
-- in the same statement, one row per group (not per delivery). The slot (backend pid % 8) spreads
-- concurrent writers over different rows; readers sum the slots.
CREATE TABLE delivery_rollup (
  pipe_id text COLLATE "C" NOT NULL,
  minute timestamptz NOT NULL,
  destination_id text COLLATE "C" NOT NULL,
  status text NOT NULL,
  slot smallint NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (pipe_id, minute, destination_id, status, slot)
);
CREATE INDEX delivery_rollup_minute ON delivery_rollup (minute);
CREATE INDEX delivery_rollup_destination ON delivery_rollup (destination_id, minute);

-- SET search_path FROM CURRENT: the functions find delivery_rollup in this schema whatever the
-- caller's search_path.
CREATE FUNCTION delivery_rollup_created() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $fn$
BEGIN
  INSERT INTO delivery_rollup AS r (pipe_id, minute, destination_id, status, slot, count)
  SELECT pipe_id, date_trunc('minute', updated_at), destination_id, status, pg_backend_pid() % 8, count(*)
  FROM created_rows
  GROUP BY 1, 2, 3, 4
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (pipe_id, minute, destination_id, status, slot) DO UPDATE SET count = r.count + excluded.count;
  RETURN NULL;
END
$fn$;

CREATE FUNCTION delivery_rollup_changed() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $fn$
BEGIN
  INSERT INTO delivery_rollup AS r (pipe_id, minute, destination_id, status, slot, count)
  SELECT n.pipe_id, date_trunc('minute', n.updated_at), n.destination_id, n.status, pg_backend_pid() % 8, count(*)
  FROM changed_new n JOIN changed_old o ON o.id = n.id
  WHERE n.status <> o.status
  GROUP BY 1, 2, 3, 4
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (pipe_id, minute, destination_id, status, slot) DO UPDATE SET count = r.count + excluded.count;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER delivery_rollup_created AFTER INSERT ON deliveries
REFERENCING NEW TABLE AS created_rows
FOR EACH STATEMENT EXECUTE FUNCTION delivery_rollup_created();

CREATE TRIGGER delivery_rollup_changed AFTER UPDATE ON deliveries
REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
FOR EACH STATEMENT EXECUTE FUNCTION delivery_rollup_changed();
`,
  },
  {
    version: 5,
    name: 'profiles',
    sql: `
-- Identity (docs/identifiers.md). A merged profile keeps a pointer to its survivor; identifiers
-- always belong to a live profile. Personal identifiers are stored as digests only.
CREATE TABLE profiles (
  id text COLLATE "C" PRIMARY KEY,
  merged_into text COLLATE "C",
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  ip text,
  user_agent text
);
CREATE INDEX profiles_last_seen ON profiles (last_seen_at) WHERE merged_into IS NULL;
CREATE INDEX profiles_merged_into ON profiles (merged_into) WHERE merged_into IS NOT NULL;
CREATE TABLE profile_identifiers (
  kind text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  profile_id text COLLATE "C" NOT NULL,
  value jsonb NOT NULL,
  first_seen_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  PRIMARY KEY (kind, key)
);
CREATE INDEX profile_identifiers_profile ON profile_identifiers (profile_id);
CREATE TABLE profile_merges (
  merged_id text COLLATE "C" PRIMARY KEY,
  survivor_id text COLLATE "C" NOT NULL,
  merged_at timestamptz NOT NULL
);
CREATE INDEX profile_merges_survivor ON profile_merges (survivor_id);
`,
  },
  {
    version: 6,
    name: 'rejection log and events by source',
    sql: `
-- Events refused at collect, the newest few per source (the store trims past the engine's cap on
-- every write; retention prunes by age). The event is JSON text cut to a bounded size, so it is
-- text, not json: a cut document does not parse.
CREATE TABLE event_rejections (
  id text COLLATE "C" PRIMARY KEY,
  source_id text COLLATE "C" NOT NULL,
  received_at timestamptz NOT NULL,
  error jsonb NOT NULL,
  event text NOT NULL,
  truncated boolean NOT NULL
);
CREATE INDEX event_rejections_source ON event_rejections (source_id, id);
-- A source's recent events, newest first (GET /api/sources/{id}/events). On a large events table
-- this build takes a while and holds off inserts meanwhile (docs/deployment.md, "Retention and
-- pruning", says to expect it).
-- IF NOT EXISTS: an operator may build it beforehand with CREATE INDEX CONCURRENTLY.
CREATE INDEX IF NOT EXISTS events_source ON events (source_id, id);
`,
  },
  {
    version: 7,
    name: 'delivery filter reason',
    sql: `
-- Why a filtered delivery was not sent: consent (the pipe's consent requirement), the reason its
-- transform gave, or transform (it returned nothing). Null for other statuses and older records.
ALTER TABLE deliveries ADD COLUMN filter_reason text;
`,
  },
  {
    version: 8,
    name: 'event identifier index',
    sql: `
-- Which events carried which identifier (kind and key as profile_identifiers keeps them), written
-- when each event's identifiers are linked: erasure and export find a person's events through it,
-- whatever profile holds the identifiers now (docs/erasure.md). Pruned with the events.
CREATE TABLE event_identifiers (
  kind text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  event_ref text COLLATE "C" NOT NULL,
  PRIMARY KEY (kind, key, event_ref)
);
CREATE INDEX event_identifiers_event ON event_identifiers (event_ref);
`,
  },
  {
    version: 9,
    name: 'events by type and time',
    sql: `
-- Reconciliation (GET /api/reconciliation): the events of one type received in a period, counted
-- over this index and joined to their deliveries through deliveries_event_ref; never a scan of the
-- history.
-- IF NOT EXISTS: an operator may build it beforehand with CREATE INDEX CONCURRENTLY.
CREATE INDEX IF NOT EXISTS events_type_received ON events (event_type, received_at);
`,
  },
  {
    version: 10,
    name: 'per-minute match-quality rollup',
    sql: `
-- Match quality (GET /api/pipes/:id/match-quality): per pipe and minute, how many delivered events
-- carried each identifier before stitching (raw) and in the request that left (stitched);
-- identifier '*' counts the measured events. Written in the statement that records the outcome;
-- slot (the backend pid mod 8) spreads concurrent writers over rows, as in delivery_rollup; read
-- summed, never counting the history; pruned with the deliveries' retention.
CREATE TABLE match_rollup (
  pipe_id text COLLATE "C" NOT NULL,
  minute timestamptz NOT NULL,
  identifier text COLLATE "C" NOT NULL,
  slot smallint NOT NULL,
  raw bigint NOT NULL,
  stitched bigint NOT NULL,
  PRIMARY KEY (pipe_id, minute, identifier, slot)
);
CREATE INDEX match_rollup_minute ON match_rollup (minute);
`,
  },
  {
    version: 11,
    name: 'packed delivery details and attempts',
    sql: `
-- A delivery's detail and an attempt's data become bytea packed by the record codec
-- (@openpipes/core/store-kit packed.ts: a tag byte, then deflate-raw with a fixed dictionary), about
-- a third of their JSON text and below the size at which TOAST would compress them. Rows written
-- before are kept as their JSON text in UTF-8, which the codec reads as such (their first byte is a
-- JSON character, never a tag). Rewrites both tables once.
ALTER TABLE deliveries ALTER COLUMN detail TYPE bytea USING convert_to(detail::text, 'UTF8');
ALTER TABLE delivery_attempts ALTER COLUMN data TYPE bytea USING convert_to(data::text, 'UTF8');
`,
  },
  {
    version: 12,
    name: 'two fewer delivery indexes',
    sql: `
-- Every status change rewrites a delivery's row outside HOT (status and due_at are indexed), so each
-- index of deliveries takes a new entry per change, not only per delivery. Two served no query the
-- others could not: time windows read ids (ULIDs made at creation, as SQLite does) through the
-- indexes below, and a pipe's newest rows are read status by status over deliveries_pipe_status,
-- merged. docs/deployment.md ("Which index serves which query") lists each query and its index.
-- DROP INDEX takes an ACCESS EXCLUSIVE lock on deliveries until this migration commits: it waits
-- for the statements reading or writing deliveries at that moment, and they wait for it; the drop
-- itself is quick. CONCURRENTLY cannot run inside the transaction every migration runs in.
-- IF EXISTS: an operator may drop them beforehand with DROP INDEX CONCURRENTLY.
-- lock_timeout: queued behind a long statement on deliveries, the drop would hold every ingest and
-- claim behind it; after 10 s it gives up instead, the migration fails whole (nothing dropped) and
-- the next start tries again.
SET LOCAL lock_timeout = '10s';
DROP INDEX IF EXISTS deliveries_pipe;
DROP INDEX IF EXISTS deliveries_pipe_created;
`,
  },
  {
    version: 13,
    name: 'identifier values derived from their key',
    sql: `
-- An identifier's value (JSON) mostly says what its key does: the raw value of a raw kind, or
-- {"sha256": key} for a personal one. Such a value is now kept as NULL and derived on read (core's
-- identifierValueOf), most of the row's bytes; other values (several digests) are kept whole, as are
-- rows written before. So is last_seen_at while it equals first_seen_at (a new identifier's: both
-- the event's time), read as first_seen_at (identifierLastSeenOf). Dropping NOT NULL changes only
-- the catalog: no rewrite, a brief lock.
ALTER TABLE profile_identifiers ALTER COLUMN value DROP NOT NULL;
ALTER TABLE profile_identifiers ALTER COLUMN last_seen_at DROP NOT NULL;
`,
  },
  {
    version: 14,
    name: 'first event of an identifier in its own row',
    sql: `
-- As SQLite's migration 13: the event that brought an identifier no profile held (\`evt_\` id) is
-- kept in the identifier's row instead of a row of event_identifiers, one index entry per new
-- identifier less (event_identifiers and its two indexes were ~1.2 KB per event of four new
-- identifiers). Erasure and export read both; an identifier seen again, or withheld by consent, is
-- still indexed in event_identifiers. NULL for rows written before, whose events are in
-- event_identifiers already. The event may have been pruned since: readers join events. Pruning a
-- profile moves what it held to event_identifiers. A nullable column without a default: catalog only.
-- IF NOT EXISTS: a schema whose migration rows were rewound by hand (to re-run later ones) upgrades too.
ALTER TABLE profile_identifiers ADD COLUMN IF NOT EXISTS event_ref text COLLATE "C";
`,
  },
  {
    version: 15,
    name: 'created deliveries counted by the ingest',
    sql: `
-- The insert trigger counted an ingest's new deliveries into delivery_rollup in the slot of its
-- backend (pid % 8), and the ingest then held that counter row while it waited for the identity lock:
-- a second ingest on a backend with the same remainder waited behind it (49 waits of 20-450 ms in a
-- 20,000-event bench). appendEvents now counts them in its insert statement, in a slot no other
-- transaction holds (events.ts). Updates keep their trigger. A process from before this migration,
-- beside a newer one, would insert deliveries uncounted: stop every older process first.
-- lock_timeout as in migration 12 (DROP TRIGGER locks deliveries until the migration commits).
SET LOCAL lock_timeout = '10s';
DROP TRIGGER IF EXISTS delivery_rollup_created ON deliveries;
DROP FUNCTION IF EXISTS delivery_rollup_created();
`,
  },
  {
    version: 16,
    name: 'deliveries listed by event id through their events',
    sql: `
-- deliveries_event_id (event_id) served only the listing by the sender's event id, and cost an entry
-- per delivery and per version of it (a status change is not HOT: pending, sending and the final
-- status made three), on a random page with senders' random ids. The listing now finds the events
-- (events_sender_event_id: one entry per event sent with an id, written once, as events are never
-- updated; event_dedup keeps only the latest per source and id), an event sent without an id by its
-- own id, and their deliveries through deliveries_event_ref (deliveries.ts). A tombstone has no
-- event left: erasure replaced its event_id with a keyed digest 'erased:<hex>', and only those rows
-- (and a sender's own id that starts so) are in deliveries_erased. LIKE, not a range: event_id has
-- the database's collation, whose order need not keep 'erased:...' between 'erased:' and 'erased;'.
-- CREATE INDEX holds off writes to its table (ingest: events; erasure and every status change:
-- deliveries) while it reads the table once; DROP INDEX locks deliveries until this migration
-- commits. CONCURRENTLY cannot run inside the transaction every migration runs in: on a large table
-- an operator may build both CONCURRENTLY beforehand (IF NOT EXISTS) and drop the old one so
-- (IF EXISTS). lock_timeout as in migration 12.
SET LOCAL lock_timeout = '10s';
CREATE INDEX IF NOT EXISTS events_sender_event_id ON events (event_id) WHERE sender_event_id;
CREATE INDEX IF NOT EXISTS deliveries_erased ON deliveries (event_id) WHERE event_id LIKE 'erased:%';
DROP INDEX IF EXISTS deliveries_event_id;
`,
  },
  {
    version: 17,
    name: 'rollup trigger joins by hash',
    sql: `
-- The update trigger joins the statement's old and new rows by id. PL/pgSQL keeps a generic plan
-- made when a statement changed a row or two, a nested loop, and reuses it for a claim or an outcome
-- of 500 rows: 250,000 comparisons, ~18 ms a statement, 12 % of PostgreSQL's CPU per delivered event
-- (docs/deployment.md, "PostgreSQL CPU (session 16)"). Without nested loops the join is a hash or a
-- merge whatever the rows. The setting holds only while the function runs; catalog only.
ALTER FUNCTION delivery_rollup_changed() SET enable_nestloop = off;
`,
  },
];
