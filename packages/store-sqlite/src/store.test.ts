import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  runIdentifierStorageConformance,
  runProfileConformance,
  runStoreConformance,
  runStoreDeliveryCounts,
  runStoreIdentifierFirstEvent,
  runStoreObservability,
  type StoredIdentifierRow,
} from '@openpipes/core/conformance';
import Database from 'better-sqlite3';
import { sqliteStore } from './index.js';

let dir: string | undefined;

const options = {
  name: 'sqlite (a real file)',
  createStore: async () => {
    dir = mkdtempSync(join(tmpdir(), 'openpipes-sqlite-'));
    return sqliteStore({ filename: join(dir, 'test.db') });
  },
  cleanup: async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  },
};

runStoreConformance(options);
runStoreObservability(options);
runStoreDeliveryCounts(options);
runProfileConformance(options);
runStoreIdentifierFirstEvent(options);

/** Runs `use` on a connection of its own to the case's file (the store keeps its own open). */
const onFile = <T>(use: (db: Database.Database) => T): T => {
  const db = new Database(join(dir!, 'test.db'));
  try {
    return use(db);
  } finally {
    db.close();
  }
};
runIdentifierStorageConformance({
  ...options,
  storedRows: async () =>
    onFile((db) => {
      const rows = db
        .prepare('SELECT kind, key, value, last_seen_at FROM profile_identifiers')
        .all() as Array<{ kind: string; key: string } & StoredIdentifierRow>;
      return new Map(
        rows.map((r) => [`${r.kind}:${r.key}`, { value: r.value, last_seen_at: r.last_seen_at }]),
      );
    }),
  // The columns are NOT NULL: SQLite keeps an elided value or time as ''.
  setStored: async (kind, key, column, stored) =>
    onFile((db) => {
      db.prepare(`UPDATE profile_identifiers SET ${column} = ? WHERE kind = ? AND key = ?`).run(
        stored ?? '',
        kind,
        key,
      );
    }),
});
