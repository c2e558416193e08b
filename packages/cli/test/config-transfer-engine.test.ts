/**
 * Core's config transfer scenarios (`runEngineConfigTransfer`) on the store `openpipes serve` uses
 * by default, SQLite. (A store package can run the same scenarios with the same few lines.)
 */
import { join } from 'node:path';
import { runEngineConfigTransfer } from '@openpipes/core/conformance';
import { sqliteStore } from '@openpipes/store-sqlite';
import { afterAll } from 'vitest';
import { stopAll, tempDir } from './helpers.js';

const dir = tempDir('engine-config');
afterAll(() => stopAll());

runEngineConfigTransfer({
  name: 'SQLite',
  openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }),
});
