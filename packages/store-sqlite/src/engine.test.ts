import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEngineSuites } from '@openpipes/core/conformance';
import { afterAll } from 'vitest';
import { sqliteStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'openpipes-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const openStore = async (db: string) => sqliteStore({ filename: join(dir, `${db}.db`) });

// The database file and its write-ahead log, byte for byte.
const rawDump = async (db: string) =>
  ['', '-wal']
    .map((suffix) => join(dir, `${db}.db${suffix}`))
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file).toString('latin1'))
    .join('\n');

// The options go to every suite; the engine and alerts suites read `rawDump`.
runEngineSuites({ name: 'SQLite', openStore, rawDump });
