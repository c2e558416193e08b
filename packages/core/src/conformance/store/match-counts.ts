/** Store conformance: the match-quality rollup kept by `completeDeliveries`, read by `matchCounts`, pruned. */
import { describe, expect, it } from 'vitest';
import { at, outcome, type StoreCases } from './fixtures.js';

export function matchCountCases(t: StoreCases): void {
  const { claimFor, seed } = t;
  describe('match-quality rollup', () => {
    it("adds a delivered outcome's identifiers in its transaction, never a lost or undelivered one", async () => {
      const { pipeRefs } = await seed(4, 1);
      const p = pipeRefs[0]!;
      const [a, b, c, d] = await claimFor(p, 'w1', at(0), { limit: 4 });
      const match = (raw: string[], stitched: string[]) => ({ match: { raw, stitched } });
      const recorded = await t.store.completeDeliveries({
        owner: 'w1',
        outcomes: [
          outcome(a!, 'delivered', match(['user_id'], ['email', 'fbp'])),
          outcome(b!, 'delivered', match(['email'], ['email'])),
          // Not delivered: nothing to count even if a match came along.
          outcome(c!, 'failed', match(['email'], ['email'])),
          // Delivered without a declaration: not measured.
          outcome(d!, 'delivered'),
        ],
        now: at(1000),
      });
      expect(recorded.applied).toHaveLength(4);
      // A lost lease adds nothing.
      await t.store.completeDeliveries({
        owner: 'w-other',
        outcomes: [outcome(a!, 'delivered', match(['email'], ['email']))],
        now: at(1000),
      });
      const rows = await t.store.matchCounts({ pipeId: p.pipe_id, since: at(0), until: at(120_000) });
      expect(rows).toEqual([
        { identifier: '*', raw: 2, stitched: 2 },
        { identifier: 'email', raw: 1, stitched: 2 },
        { identifier: 'fbp', raw: 0, stitched: 1 },
        { identifier: 'user_id', raw: 1, stitched: 0 },
      ]);
      // Another pipe, or minutes outside the window, see nothing.
      expect(await t.store.matchCounts({ pipeId: 'pip_other', since: at(0), until: at(120_000) })).toEqual(
        [],
      );
      expect(
        await t.store.matchCounts({ pipeId: p.pipe_id, since: at(120_000), until: at(240_000) }),
      ).toEqual([]);
      // Retention takes the minutes before its cut.
      await t.store.prune({ before: at(3_600_000), limit: 100 });
      expect(await t.store.matchCounts({ pipeId: p.pipe_id, since: at(0), until: at(120_000) })).toEqual([]);
    });
  });
}
