// A dispatcher process for the crash test: opens the SQLite file given in argv and delivers until
// it is killed. Runs from the built packages, like a real deployment.
import { createPipes, silentLogger } from '@openpipes/core';
import { sqliteStore } from '@openpipes/store-sqlite';

const [filename, secretKey, allow] = process.argv.slice(2);
const pipes = createPipes({
  store: sqliteStore({ filename }),
  secretKey,
  egressAllow: [allow],
  logger: silentLogger,
  sandbox: { workers: 1 },
  // A short lease, so the process that restarts after a SIGKILL takes the dead one's work over soon.
  dispatcher: { pollIntervalMs: 50, leaseMs: 2000 },
});
await pipes.start();
process.send?.('started');
