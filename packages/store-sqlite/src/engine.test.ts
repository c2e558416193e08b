import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEngineSuites } from '@openpipes/core/conformance';
import { unpackJson } from '@openpipes/core/store-kit';
import Database from 'better-sqlite3';
import { afterAll } from 'vitest';
import { sqliteStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'openpipes-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const openStore = async (db: string) => sqliteStore({ filename: join(dir, `${db}.db`) });

// The database file and its write-ahead log, byte for byte, and the packed columns (migration 11)
// as the text they hold: compressed, a needle would not show in the bytes whether erased or not.
const rawDump = async (db: string) => {
  const file = join(dir, `${db}.db`);
  const bytes = ['', '-wal']
    .map((suffix) => `${file}${suffix}`)
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f).toString('latin1'));
  if (!existsSync(file)) return bytes.join('\n');
  const reader = new Database(file, { readonly: true });
  try {
    const packed = [
      ...reader.prepare('SELECT detail AS v FROM deliveries').all(),
      ...reader.prepare('SELECT data AS v FROM delivery_attempts').all(),
    ].map((r) => unpackJson((r as { v: string | Uint8Array }).v));
    return [...bytes, ...packed].join('\n');
  } finally {
    reader.close();
  }
};

// As a newer OpenPipes would: its migration recorded as applied.
const recordMigration = async (db: string, version: number) => {
  const writer = new Database(join(dir, `${db}.db`));
  try {
    writer
      .prepare('INSERT INTO openpipes_migrations (version, name, applied_at) VALUES (?, ?, ?)')
      .run(version, 'from_a_newer_version', new Date().toISOString());
  } finally {
    writer.close();
  }
};

const countRows = async (db: string, table: string) => {
  const reader = new Database(join(dir, `${db}.db`), { readonly: true });
  try {
    return (reader.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
  } finally {
    reader.close();
  }
};

// The options go to every suite; the engine and alerts suites read `rawDump`.
runEngineSuites({ name: 'SQLite', openStore, rawDump, recordMigration, countRows });
