import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  runEngineAlerts,
  runEngineConfigTransfer,
  runEngineConformance,
  runEngineDestinationFaults,
  runEngineNeighbours,
  runEngineReliability,
} from '@openpipes/core/conformance';
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

runEngineReliability({ name: 'SQLite', openStore });

runEngineAlerts({ name: 'SQLite', openStore, rawDump });

runEngineConformance({ name: 'SQLite', openStore, rawDump });

runEngineConfigTransfer({ name: 'SQLite', openStore });

runEngineDestinationFaults({ name: 'SQLite', openStore });

runEngineNeighbours({ name: 'SQLite', openStore });
