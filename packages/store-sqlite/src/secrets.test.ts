import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEngineSecrets } from '@openpipes/core/conformance';
import { unpackJson } from '@openpipes/core/store-kit';
import Database from 'better-sqlite3';
import { afterAll } from 'vitest';
import { sqliteStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'openpipes-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (db: string) => join(dir, `${db}.db`);

// The database file, its write-ahead log and its shared-memory index, byte for byte as they are
// (read first, so nothing is checkpointed before), then every row of every table, since a long
// value is split over overflow pages in the file.
const storedBytes = async (db: string) => {
  const raw = ['', '-wal', '-shm']
    .filter((suffix) => existsSync(file(db) + suffix))
    .map((suffix) => ({
      name: `${db}.db${suffix}`,
      text: readFileSync(file(db) + suffix).toString('latin1'),
    }));
  const reader = new Database(file(db), { fileMustExist: true });
  try {
    const tables = reader.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{
      name: string;
    }>;
    const rows = tables.map(({ name }) => JSON.stringify(reader.prepare(`SELECT * FROM "${name}"`).all()));
    // The packed columns (migration 11) as the text they hold: compressed, a piece would not show.
    const packed = [
      ...reader.prepare('SELECT detail AS v FROM deliveries').all(),
      ...reader.prepare('SELECT data AS v FROM delivery_attempts').all(),
    ].map((r) => unpackJson((r as { v: string | Uint8Array }).v));
    return [
      ...raw,
      { name: `${db}.db rows`, text: rows.join('\n') },
      { name: `${db}.db packed details and attempts`, text: packed.join('\n') },
    ];
  } finally {
    reader.close();
  }
};

runEngineSecrets({
  name: 'SQLite',
  openStore: async (db) => sqliteStore({ filename: file(db) }),
  storedBytes,
});
