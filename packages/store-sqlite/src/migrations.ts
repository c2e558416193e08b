/**
 * The SQLite schema, as numbered migrations. A migration never changes once released; new ones are
 * appended. They run in `BEGIN IMMEDIATE` transactions, so two processes opening the same file at
 * once apply each migration once.
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
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('config_revision', '0');

CREATE TABLE entities (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  unique_key TEXT,
  version INTEGER NOT NULL,
  data TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX entities_unique_key ON entities (kind, unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX entities_kind ON entities (kind, id);

CREATE TABLE entity_versions (
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  version INTEGER NOT NULL,
  data TEXT NOT NULL,
  actor TEXT,
  created_at TEXT NOT NULL,
  PRIMARY KEY (id, version)
);

CREATE TABLE secret_values (
  secret_id TEXT PRIMARY KEY,
  ciphertext TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE events (
  id TEXT PRIMARY KEY,
  source_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  sender_event_id INTEGER NOT NULL,
  event_type TEXT NOT NULL,
  event_time TEXT NOT NULL,
  payload TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE INDEX events_dedup ON events (source_id, event_id, received_at) WHERE sender_event_id = 1;
-- Ids are ULIDs in creation order, so time ranges and pruning use the primary key, not a time index.

-- due_at: when the delivery may be claimed. pending: when created; retrying: the next attempt;
-- sending: when the lease expires. NULL for final statuses.
CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  event_ref TEXT NOT NULL,
  source_id TEXT NOT NULL,
  pipe_id TEXT NOT NULL,
  destination_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  status TEXT NOT NULL,
  attempt_count INTEGER NOT NULL DEFAULT 0,
  pipe_version INTEGER,
  destination_version INTEGER,
  pinned_pipe_version INTEGER,
  replayed_at TEXT,
  attempts_before_replay INTEGER NOT NULL DEFAULT 0,
  test_mode INTEGER NOT NULL DEFAULT 0,
  due_at TEXT,
  lease_owner TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  delivered_at TEXT,
  detail TEXT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (destination_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_pipe ON deliveries (pipe_id, id);
CREATE INDEX deliveries_pipe_status ON deliveries (pipe_id, status, id);
CREATE INDEX deliveries_event_id ON deliveries (event_id);
CREATE INDEX deliveries_event_ref ON deliveries (event_ref);

CREATE TABLE delivery_attempts (
  delivery_id TEXT NOT NULL,
  number INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (delivery_id, number)
);

CREATE TABLE audit (
  id TEXT PRIMARY KEY,
  actor TEXT,
  action TEXT NOT NULL,
  entity_kind TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  before TEXT,
  after TEXT,
  request_id TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX audit_entity ON audit (entity_kind, entity_id, id);
CREATE INDEX audit_actor ON audit (actor, id);

CREATE TABLE state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
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
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  secret_id TEXT NOT NULL,
  key TEXT NOT NULL,
  ciphertext TEXT NOT NULL,
  retired_at TEXT NOT NULL
);
CREATE INDEX retired_secret_values_retired_at ON retired_secret_values (retired_at);
`,
  },
  {
    version: 3,
    name: 'event volume and trace context',
    sql: `
-- Accepted events per minute, source and event type: the "usual level" volume alerts compare
-- against. Each process adds what it counted once a minute (additive, so processes sum up).
CREATE TABLE event_volume (
  minute TEXT NOT NULL,
  source_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (minute, source_id, event_type)
);
-- The W3C traceparent of the request that ingested the event (null without an active trace).
ALTER TABLE events ADD COLUMN trace_parent TEXT;
ALTER TABLE deliveries ADD COLUMN trace_parent TEXT;
`,
  },
  {
    version: 4,
    name: 'per-minute delivery rollup',
    sql: `
-- How many deliveries of each pipe (and its destination) entered each status, per minute: the
-- console's and the API's counts over time, read without counting the history. Kept by triggers,
-- so every statement that creates a delivery or changes its status updates it in the same
-- statement. minute is 'YYYY-MM-DDTHH:MM' (UTC), the prefix of the ISO times stored here.
CREATE TABLE delivery_rollup (
  pipe_id TEXT NOT NULL,
  minute TEXT NOT NULL,
  destination_id TEXT NOT NULL,
  status TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (pipe_id, minute, destination_id, status)
) WITHOUT ROWID;
CREATE INDEX delivery_rollup_minute ON delivery_rollup (minute);
CREATE INDEX delivery_rollup_destination ON delivery_rollup (destination_id, minute);

CREATE TRIGGER delivery_rollup_created AFTER INSERT ON deliveries
BEGIN
  INSERT INTO delivery_rollup (pipe_id, minute, destination_id, status, count)
  VALUES (NEW.pipe_id, substr(NEW.updated_at, 1, 16), NEW.destination_id, NEW.status, 1)
  ON CONFLICT (pipe_id, minute, destination_id, status) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER delivery_rollup_changed AFTER UPDATE OF status ON deliveries
WHEN NEW.status IS NOT OLD.status
BEGIN
  INSERT INTO delivery_rollup (pipe_id, minute, destination_id, status, count)
  VALUES (NEW.pipe_id, substr(NEW.updated_at, 1, 16), NEW.destination_id, NEW.status, 1)
  ON CONFLICT (pipe_id, minute, destination_id, status) DO UPDATE SET count = count + 1;
END;
`,
  },
  {
    version: 5,
    name: 'profiles',
    sql: `
-- Identity (docs/identifiers.md). A merged profile keeps a pointer to its survivor; identifiers
-- always belong to a live profile. Personal identifiers are stored as digests only.
CREATE TABLE profiles (
  id TEXT PRIMARY KEY,
  merged_into TEXT,
  created_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  ip TEXT,
  user_agent TEXT
);
CREATE INDEX profiles_last_seen ON profiles (last_seen_at) WHERE merged_into IS NULL;
CREATE INDEX profiles_merged_into ON profiles (merged_into) WHERE merged_into IS NOT NULL;
CREATE TABLE profile_identifiers (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  value TEXT NOT NULL,
  first_seen_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX profile_identifiers_profile ON profile_identifiers (profile_id);
CREATE TABLE profile_merges (
  merged_id TEXT PRIMARY KEY,
  survivor_id TEXT NOT NULL,
  merged_at TEXT NOT NULL
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
-- TEXT, not JSON: a cut document does not parse.
CREATE TABLE event_rejections (
  id TEXT PRIMARY KEY,
  source_id TEXT NOT NULL,
  received_at TEXT NOT NULL,
  error TEXT NOT NULL,
  event TEXT NOT NULL,
  truncated INTEGER NOT NULL
);
CREATE INDEX event_rejections_source ON event_rejections (source_id, id);
-- A source's recent events, newest first (GET /api/sources/{id}/events).
CREATE INDEX events_source ON events (source_id, id);
`,
  },
  {
    version: 7,
    name: 'delivery filter reason',
    sql: `
-- Why a filtered delivery was not sent: consent (the pipe's consent requirement), the reason its
-- transform gave, or transform (it returned nothing). Null for other statuses and older records.
ALTER TABLE deliveries ADD COLUMN filter_reason TEXT;
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
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  event_ref TEXT NOT NULL,
  PRIMARY KEY (kind, key, event_ref)
) WITHOUT ROWID;
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
CREATE INDEX events_type_received ON events (event_type, received_at);
`,
  },
  {
    version: 10,
    name: 'per-minute match-quality rollup',
    sql: `
-- Match quality (GET /api/pipes/:id/match-quality): per pipe and minute, how many delivered events
-- carried each identifier before stitching (raw) and in the request that left (stitched);
-- identifier '*' counts the measured events. Written in the transaction that records the outcome;
-- read without counting the history; pruned with the deliveries' retention.
CREATE TABLE match_rollup (
  pipe_id TEXT NOT NULL,
  minute TEXT NOT NULL,
  identifier TEXT NOT NULL,
  raw INTEGER NOT NULL,
  stitched INTEGER NOT NULL,
  PRIMARY KEY (pipe_id, minute, identifier)
) WITHOUT ROWID;
CREATE INDEX match_rollup_minute ON match_rollup (minute);
`,
  },
  {
    version: 11,
    name: 'packed delivery details and attempts',
    sql: `
-- From here on a delivery's detail and an attempt's data are written as BLOBs packed by the record
-- codec (@openpipes/core/store-kit packed.ts: a tag byte, then deflate-raw with a fixed dictionary),
-- about a third of their JSON text. The columns keep their declared type: SQLite stores a BLOB in a
-- TEXT column as it is, and rows written before stay JSON text, which the codec reads as such.
-- Nothing to change in the schema; the migration records that the format did.
SELECT 1;
`,
  },
  {
    version: 12,
    name: 'running totals of final delivery statuses',
    sql: `
-- How many deliveries of each destination and pipe are in each final status now (delivered,
-- filtered, failed, dead), so deliveryStats() reads the totals and counts only the live backlog
-- (through deliveries_due) instead of grouping the whole history (~0.5-5 s at 300-455k rows).
-- Kept by triggers, in the statement that changes the row: a completion into a final status adds
-- one upsert here (ingest inserts pending rows, which only test the WHEN); a replay out of one takes
-- one back. Pruning, the only DELETE of deliveries, takes back what it deletes in one statement per
-- group (prune.ts), not a trigger per row, so a pruned delivery costs no more than before.
-- Rows whose count reaches 0 stay (a few per pipe) and are not read.
CREATE TABLE delivery_totals (
  destination_id TEXT NOT NULL,
  pipe_id TEXT NOT NULL,
  status TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (destination_id, pipe_id, status)
) WITHOUT ROWID;

-- The history so far: one scan, once (inside this migration's transaction).
INSERT INTO delivery_totals (destination_id, pipe_id, status, count)
SELECT destination_id, pipe_id, status, count(*) FROM deliveries
WHERE status IN ('delivered', 'filtered', 'failed', 'dead')
GROUP BY destination_id, pipe_id, status;

CREATE TRIGGER delivery_totals_created AFTER INSERT ON deliveries
WHEN NEW.status IN ('delivered', 'filtered', 'failed', 'dead')
BEGIN
  INSERT INTO delivery_totals (destination_id, pipe_id, status, count)
  VALUES (NEW.destination_id, NEW.pipe_id, NEW.status, 1)
  ON CONFLICT (destination_id, pipe_id, status) DO UPDATE SET count = count + 1;
END;

-- When the status, the pipe or the destination is set and one of them changed: the old key loses a
-- row in a final status, the new one gains it. Two triggers, so that a completion (sending to
-- delivered) runs one statement and a claim or a retry (neither side final) none.
CREATE TRIGGER delivery_totals_left AFTER UPDATE OF status, pipe_id, destination_id ON deliveries
WHEN OLD.status IN ('delivered', 'filtered', 'failed', 'dead')
  AND (NEW.status IS NOT OLD.status OR NEW.pipe_id IS NOT OLD.pipe_id
       OR NEW.destination_id IS NOT OLD.destination_id)
BEGIN
  UPDATE delivery_totals SET count = count - 1
  WHERE destination_id = OLD.destination_id AND pipe_id = OLD.pipe_id AND status = OLD.status;
END;

CREATE TRIGGER delivery_totals_entered AFTER UPDATE OF status, pipe_id, destination_id ON deliveries
WHEN NEW.status IN ('delivered', 'filtered', 'failed', 'dead')
  AND (NEW.status IS NOT OLD.status OR NEW.pipe_id IS NOT OLD.pipe_id
       OR NEW.destination_id IS NOT OLD.destination_id)
BEGIN
  INSERT INTO delivery_totals (destination_id, pipe_id, status, count)
  VALUES (NEW.destination_id, NEW.pipe_id, NEW.status, 1)
  ON CONFLICT (destination_id, pipe_id, status) DO UPDATE SET count = count + 1;
END;
`,
  },
  {
    version: 13,
    name: 'first event of an identifier in its own row',
    sql: `
-- The event that brought an identifier no profile held (\`evt_\` id), kept in the identifier's row
-- instead of a row of event_identifiers: a new identifier's link then writes one row in a
-- random-ordered primary key, not two (with digests for keys, each such row is a page of its own
-- rewritten to the WAL and again at the checkpoint). Erasure and export read both; an identifier
-- seen again, or withheld by consent, is still indexed in event_identifiers. NULL for the rows of
-- files migrated from before, whose events are in event_identifiers already. The event may have
-- been pruned since: readers join events. Pruning a profile moves what it held to event_identifiers.
ALTER TABLE profile_identifiers ADD COLUMN event_ref TEXT;
`,
  },
  {
    version: 14,
    name: 'delivery counts kept per statement',
    sql: `
-- The per-minute rollup (4) and the running totals (12) are kept by the store's own statements
-- (tallies.ts): each counts the rows it creates or moves and adds one upsert per pipe and status,
-- instead of a trigger's upsert per row, which also made every such statement keep a statement
-- journal. The tables and what they count are unchanged. From here on, rows written by hand are
-- not counted: recount as the CHANGELOG says. IF EXISTS: a file whose triggers were dropped by hand
-- (to load rows) migrates too.
DROP TRIGGER IF EXISTS delivery_rollup_created;
DROP TRIGGER IF EXISTS delivery_rollup_changed;
DROP TRIGGER IF EXISTS delivery_totals_created;
DROP TRIGGER IF EXISTS delivery_totals_left;
DROP TRIGGER IF EXISTS delivery_totals_entered;
`,
  },
  {
    version: 15,
    name: 'claims read due deliveries in their order',
    sql: `
-- A claim takes a destination's due deliveries ORDER BY due_at, id. deliveries_due held
-- (destination_id, due_at) only, so SQLite sorted every run of rows with the same due_at by id in
-- a temporary b-tree (USE TEMP B-TREE FOR LAST TERM OF ORDER BY; an ingest batch's rows share
-- their due_at). With id in the index the claim reads its rows in order and stops at the limit, as
-- PostgreSQL's deliveries_due (destination_id, due_at, id) always did. Same name: the statistics
-- query reads it INDEXED BY. Partial: the rebuild scans deliveries once and holds the live backlog.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (destination_id, due_at, id) WHERE due_at IS NOT NULL;
`,
  },
  {
    version: 16,
    name: 'no (pipe_id, id) index of deliveries',
    sql: `
-- deliveries_pipe (pipe_id, id) cost every delivery an index entry at ingest (about 79 bytes) and
-- served only a pipe's listing of several or all statuses, which now reads deliveries_pipe_status
-- (pipe_id, status, id) newest first, one walk per status merged in id order (deliveries.ts), as
-- PostgreSQL has since its migration 12. A page still reads about as many rows as it returns.
-- Replays, statistics and the newest rows per status read deliveries_pipe_status already.
-- IF EXISTS: an operator may have dropped it beforehand.
DROP INDEX IF EXISTS deliveries_pipe;
`,
  },
  {
    version: 17,
    name: 'deliveries listed by event id through their events',
    sql: `
-- deliveries_event_id (event_id) cost every delivery an index entry at ingest, a random page per row
-- with senders' random ids (UUIDs), and served only the listing by the sender's event id. That
-- listing now finds the events first (events_dedup, one entry per event and not per pipe; an event
-- sent without an id by its own id), then their deliveries through deliveries_event_ref
-- (deliveries.ts). A tombstone has no event left: erasure replaced its event_id with a keyed digest
-- 'erased:<hex>', and only those rows (and a sender's own id that starts so) are in deliveries_erased.
-- Its WHERE is a range, not LIKE (case-insensitive in SQLite): the listing repeats it word for word,
-- as a partial index is used only for a query that names its condition. Building it reads
-- deliveries once. IF EXISTS / IF NOT EXISTS: an operator may have done either beforehand.
DROP INDEX IF EXISTS deliveries_event_id;
CREATE INDEX IF NOT EXISTS deliveries_erased ON deliveries (event_id)
  WHERE event_id >= 'erased:' AND event_id < 'erased;';
`,
  },
];
