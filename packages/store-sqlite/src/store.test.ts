import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  runProfileConformance,
  runStoreConformance,
  runStoreDeliveryCounts,
  runStoreObservability,
} from '@openpipes/core/conformance';
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
