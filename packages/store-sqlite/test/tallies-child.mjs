// A second process on the file of tallies-engine.test.ts: claims, completes (every status),
// releases and replays through its own store while the test's process writes too. Runs from the
// built package, like a real deployment.
import { bareOutcome } from '@openpipes/core/testing';
import { sqliteStore } from '@openpipes/store-sqlite';

const [filename, rounds] = process.argv.slice(2);
const store = sqliteStore({ filename });
const statuses = ['delivered', 'filtered', 'failed', 'retrying', 'dead'];
let clock = Date.parse('2026-05-04T10:00:00.000Z');
for (let round = 0; round < Number(rounds); round++) {
  clock += 7_000;
  const now = new Date(clock).toISOString();
  const claimed = await store.claimDeliveries({
    destinationId: 'dst_1',
    pipeIds: ['pip_1', 'pip_2'],
    owner: 'child',
    limit: 5,
    leaseMs: 20_000,
    now,
  });
  const outcomes = claimed
    .slice(1)
    .map((d, i) =>
      bareOutcome(d.id, statuses[(round + i) % statuses.length], now, new Date(clock + 10_000).toISOString()),
    );
  await store.completeDeliveries({ owner: 'child', outcomes, now });
  if (claimed[0] && round % 2 === 0)
    await store.releaseDeliveries({ owner: 'child', ids: [claimed[0].id], now });
  if (round % 5 === 0)
    await store.requeueDeliveries({ pipeId: 'pip_2', statuses: ['dead', 'failed'], now, limit: 3 });
}
await store.close();
process.send?.('done');
