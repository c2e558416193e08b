import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEngineConformance } from '@openpipes/core/testing';
import { afterAll } from 'vitest';
import { sqliteStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'openpipes-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runEngineConformance({
  name: 'SQLite',
  openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }),
  // The database file and its write-ahead log, byte for byte.
  rawDump: async (db) =>
    ['', '-wal']
      .map((suffix) => join(dir, `${db}.db${suffix}`))
      .filter((file) => existsSync(file))
      .map((file) => readFileSync(file).toString('latin1'))
      .join('\n'),
});
