/**
 * Reconciliation's part of the {@link Store} contract: an event type over a period, per source and
 * per pipe and destination (`packages/core/src/reconciliation.ts`; each store's `reconciliation.ts`).
 */

import type { DeliveryStatus } from '../schemas.js';

/** What {@link ReconciliationStore.reconciliation} answers. */
export interface ReconciliationRows {
  collected: Array<{ source_id: string; count: number }>;
  deliveries: Array<{
    pipe_id: string;
    destination_id: string;
    status: DeliveryStatus;
    filter_reason: string | null;
    count: number;
  }>;
}

/** Reconciliation of an event type over a period. Part of {@link Store}. */
export interface ReconciliationStore {
  /**
   * Reconciliation of one event type over `since <= received_at < until`: the events received, per
   * source, and their deliveries grouped by pipe, destination, current status and filter reason.
   * MUST cost in proportion to the events of that type in the period (an index on the events'
   * type and receive time, and the deliveries' event index), never a scan over the history.
   * Duplicates are not events (they were not stored). Empty arrays when there are none.
   */
  reconciliation(input: { eventType: string; since: string; until: string }): Promise<ReconciliationRows>;
}
