/**
 * Match quality's part of the {@link Store} contract: the per-minute rollup of which identifiers
 * delivered events carried, before and after stitching (`packages/core/src/match-quality.ts`; each
 * store's `match-counts.ts`).
 */

import type { MatchCountRow } from '../match-quality.js';

/** The match-quality rollup. Part of {@link Store}; written by `completeDeliveries`. */
export interface MatchQualityStore {
  /**
   * The match-quality rollup of one pipe over the minutes that start in `[since, until)`, summed:
   * per identifier, how many delivered events carried it before stitching (`raw`) and in the
   * request that left (`stitched`); identifier `*` counts the measured events. `completeDeliveries`
   * MUST add each applied `delivered` outcome's `match` (`matchIncrements`) in the same transaction
   * that records it, at the minute of `now`; an outcome that is not applied (lost lease) adds
   * nothing. Costs in proportion to the minutes asked for, never the history. `prune` deletes the
   * minutes before its `before`. Empty when nothing was measured.
   */
  matchCounts(input: { pipeId: string; since: string; until: string }): Promise<MatchCountRow[]>;
}
