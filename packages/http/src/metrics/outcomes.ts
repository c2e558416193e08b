/**
 * A recorded batch's outcomes added up by kind before they reach prom-client: a batch holds up to
 * thousands of outcomes of a few kinds, and prom-client hashes the labels of every call.
 */
import type { EngineObserver } from '@openpipes/core';

type RecordedBatch = Parameters<NonNullable<EngineObserver['recorded']>>[0];

/** Statuses no further attempt follows (what `openpipes_deliveries_total` counts). */
const finalStatuses = new Set(['delivered', 'filtered', 'failed', 'dead']);

export interface OutcomeCounts {
  /** Attempts by outcome. */
  byAttempt: Map<string, number>;
  /** Final statuses by pipe. */
  byFinal: Map<string, { pipe: string; status: string; count: number }>;
  /** Events measured for match quality, by pipe. */
  measured: Map<string, number>;
  /** Events that carried an identifier, by pipe, identifier and stage. */
  carried: Map<string, { pipe: string; identifier: string; stage: string; count: number }>;
}

export function countOutcomes(outcomes: RecordedBatch['outcomes']): OutcomeCounts {
  const byAttempt = new Map<string, number>();
  const byFinal = new Map<string, { pipe: string; status: string; count: number }>();
  const measured = new Map<string, number>();
  const carried = new Map<string, { pipe: string; identifier: string; stage: string; count: number }>();
  for (const { pipe, status, attempted, match } of outcomes) {
    if (attempted) byAttempt.set(status, (byAttempt.get(status) ?? 0) + 1);
    if (match) {
      measured.set(pipe, (measured.get(pipe) ?? 0) + 1);
      for (const [stage, identifiers] of [
        ['raw', match.raw],
        ['stitched', match.stitched],
      ] as const) {
        for (const identifier of identifiers) {
          const key = `${pipe}\u0000${identifier}\u0000${stage}`;
          const entry = carried.get(key);
          if (entry) entry.count++;
          else carried.set(key, { pipe, identifier, stage, count: 1 });
        }
      }
    }
    if (!finalStatuses.has(status)) continue;
    const key = `${pipe}\u0000${status}`;
    const entry = byFinal.get(key);
    if (entry) entry.count++;
    else byFinal.set(key, { pipe, status, count: 1 });
  }
  return { byAttempt, byFinal, measured, carried };
}
