/**
 * The rejection log's part of the {@link Store} contract: events refused at collect, capped per
 * source (`packages/core/src/rejections.ts` decides what is kept; each store's `rejections.ts`).
 */

/**
 * An event refused at collect, for the source's rejection log: the errors as the collect answer
 * gave them and the event as sent, as JSON text cut to a bounded size (`truncated` says so).
 */
export interface NewRejection {
  /** `newId('rejection', now)`: the time in the id is when it was refused. */
  id: string;
  error: RejectionError;
  /** The event as sent, JSON text, at most the log's size limit (not necessarily valid JSON when cut). */
  event: string;
  truncated: boolean;
}

/** Why an event was refused: the collect answer's `error` for it. */
export interface RejectionError {
  code: string;
  message: string;
  issues: Array<{ path: string; message: string }>;
}

/** A rejection as stored. */
export interface StoredRejection extends NewRejection {
  source_id: string;
  received_at: string;
}

/**
 * The rejection log (events refused at collect). Part of {@link Store}; the conformance cases are
 * `conformance/store/rejections.ts`.
 */
export interface RejectionLogStore {
  /**
   * Appends rejections of one source in ONE statement (one per collect request, not per event),
   * then deletes that source's oldest rejections beyond the newest `keep`, so a flood of garbage
   * cannot grow the log past `keep` rows per source. `keep < 1` or an empty list stores nothing.
   * Concurrent calls may briefly leave a few more than `keep`; the next call trims them.
   */
  appendRejections(input: {
    sourceId: string;
    rejections: NewRejection[];
    keep: number;
    now: string;
  }): Promise<void>;

  /** A source's rejections, newest first, those with `id < cursor` when given. `limit` 1..1001. */
  listRejections(input: { sourceId: string; cursor?: string; limit: number }): Promise<StoredRejection[]>;
}
