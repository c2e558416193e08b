/**
 * The delivery record codec above the packed columns (`packed.ts`): what an outcome's detail and
 * attempt store (an attempt without the request and response its last exchange holds; a detail
 * that is its attempt's as a reference to it, its output stored with the attempt), and how the
 * record reads back from them, exactly as written.
 */
import type { DeliveryAttempt } from '../schemas.js';
import type { DeliveryDetail, DeliveryOutcome } from '../store.js';
import { attemptRefOf, type PackedValue, packAttemptRef, packJson, unpackJson } from './packed.js';
import type { DeliveryRowText } from './rows.js';

/**
 * The attempts that rows' details refer to (see `packed.ts`, tag 0x02), for the store to read
 * before mapping them: none for a pending delivery or a detail stored whole.
 *
 * @example
 * ```ts
 * for (const { id, number } of detailRefs(rows)) referred.set(id, readAttempt(id, number));
 * ```
 */
export function detailRefs(rows: ReadonlyArray<Pick<DeliveryRowText, 'id' | 'detail'>>) {
  const refs: Array<{ id: string; number: number }> = [];
  for (const row of rows) {
    const number = attemptRefOf(row.detail);
    if (number !== null) refs.push({ id: row.id, number });
  }
  return refs;
}

/** A new delivery's detail as ingest writes it (`rows.ts` `emptyDetailJson`), read without parsing it. */
const blankDetailJson = JSON.stringify({ output: null, request: null, response: null, error: null });

/** The `data` of the attempts rows' details refer to, by delivery id ({@link detailRefs}). */
export type ReferredAttempts = ReadonlyMap<string, PackedValue>;

/**
 * A `deliveries` row's detail: its own JSON, or (a reference) rebuilt from the attempt it names, which the
 * store read into `referred`.
 */
export function detailOf(
  row: Pick<DeliveryRowText, 'id' | 'detail'>,
  referred?: ReferredAttempts,
): DeliveryDetail {
  // A pending delivery's detail (every claim of a new delivery reads one): no text to parse.
  if (row.detail === blankDetailJson) return { output: null, request: null, response: null, error: null };
  const number = attemptRefOf(row.detail);
  if (number === null) return JSON.parse(unpackJson(row.detail)) as DeliveryDetail;
  const data = referred?.get(row.id);
  return data === undefined ? missingAttemptDetail(number) : detailFromStored(parseAttempt(data));
}

/**
 * A delivery's detail and all its attempts (oldest first) from its row and its attempt rows, each
 * attempt unpacked and parsed once: the attempt a detail refers to gives both (reading it for the
 * detail and again for the list inflated it twice). The detail then shares its request, response
 * and error objects with that attempt, as the engine's outcome did when it was written.
 *
 * @example
 * ```ts
 * const { detail, attempts } = detailAndAttempts(row, all(selectAttempts(row.id)));
 * ```
 */
export function detailAndAttempts(
  row: Pick<DeliveryRowText, 'id' | 'detail'>,
  stored: ReadonlyArray<{ number: number; data: PackedValue }>,
): { detail: DeliveryDetail; attempts: DeliveryAttempt[] } {
  const number = attemptRefOf(row.detail);
  const parsed = stored.map((a) => ({ number: a.number, attempt: parseAttempt(a.data) }));
  const attempts = parsed.map((a) => attemptFromStored(a.attempt));
  if (number === null) return { detail: JSON.parse(unpackJson(row.detail)) as DeliveryDetail, attempts };
  const at = parsed.findIndex((a) => a.number === number);
  if (at < 0) return { detail: missingAttemptDetail(number), attempts };
  return { detail: detailOfAttempt(parsed[at]!.attempt, attempts[at]!), attempts };
}

// The attempt is gone (deleted by hand, pruned between two reads): the record still reads, and
// says what is missing, rather than failing a whole page or a claim.
const missingAttemptDetail = (number: number): DeliveryDetail => ({
  output: null,
  request: null,
  response: null,
  error: {
    code: 'INTERNAL',
    message: `this delivery's detail is its attempt ${number}, which could not be read`,
    retryable: false,
    stage: 'engine',
  },
});

/** The detail a reference stands for: its attempt's request, response and error, its output. */
const detailOfAttempt = (stored: StoredAttempt, attempt: DeliveryAttempt): DeliveryDetail => ({
  output: stored.detail_output ?? null,
  request: attempt.request,
  response: attempt.response,
  error: attempt.error,
});

const detailFromStored = (stored: StoredAttempt) => detailOfAttempt(stored, attemptFromStored(stored));

/**
 * An attempt as stored: its `request` and `response` are those of its last exchange (the engine
 * records them so), so they are left out and read back from it; an attempt stored in full (before
 * this, or whose fields differ) keeps them. Halves what an attempt row holds. `detailOutput`, when
 * the delivery's detail refers to this attempt ({@link packOutcome}), is stored with it as
 * `detail_output`.
 */
export function attemptToJson(attempt: DeliveryAttempt, detailOutput?: unknown[] | null): string {
  const last = attempt.exchanges[attempt.exchanges.length - 1];
  const derivable = last
    ? attempt.request === last.request && attempt.response === last.response
    : attempt.request === null && attempt.response === null;
  // Without an output to add, the attempt (or its rest) is written as it is, not copied again.
  const noOutput = detailOutput === undefined || detailOutput === null;
  if (!derivable) return JSON.stringify(noOutput ? attempt : { ...attempt, detail_output: detailOutput });
  const { request: _request, response: _response, ...rest } = attempt;
  // `rest` is a fresh object: the output goes on it (last, as a spread would place it), not on a copy.
  if (!noOutput) (rest as StoredAttempt).detail_output = detailOutput;
  return JSON.stringify(rest);
}

/** An attempt as its packed `data` column stores it ({@link attemptToJson}, packed by `packed.ts`). */
export function packAttempt(attempt: DeliveryAttempt): Buffer {
  return packJson(attemptToJson(attempt));
}

/**
 * Whether a delivery's detail is its attempt's (the engine builds both from the same objects): the
 * same request, response and error, and nothing else but the output.
 */
function detailIsAttempts(detail: DeliveryDetail, attempt: DeliveryAttempt): boolean {
  return (
    detail.request === attempt.request &&
    detail.response === attempt.response &&
    detail.error === attempt.error &&
    detail.request !== undefined &&
    detail.response !== undefined &&
    detail.error !== undefined &&
    detail.output !== undefined &&
    detail.erased_at === undefined &&
    Object.keys(detail).length === 4
  );
}

/** What an outcome stores, before packing: its detail as a reference or as JSON, its attempt's JSON. */
export type OutcomeTexts = { detail: Buffer | string; attempt: string | null };

/**
 * An outcome's detail and attempt as text, for {@link packOutcome} (or `createOutcomePacker`) to
 * pack: the JSON is written here, on the caller's thread, from the objects as they are. When the detail is the
 * attempt's (a delivered or failed attempt, as the engine records it), the detail is a reference
 * to the attempt and its output goes with the attempt: one value packed instead of two, and the
 * request and response stored once (see `packed.ts`, tag 0x02).
 *
 * @example
 * ```ts
 * const { detail, attempt } = outcomeTexts(outcome); // detail: a reference's bytes, or JSON
 * ```
 */
export function outcomeTexts(outcome: Pick<DeliveryOutcome, 'detail' | 'attempt'>): OutcomeTexts {
  const { detail, attempt } = outcome;
  if (attempt && detailIsAttempts(detail, attempt)) {
    return { detail: packAttemptRef(attempt.number), attempt: attemptToJson(attempt, detail.output) };
  }
  return { detail: JSON.stringify(detail), attempt: attempt ? attemptToJson(attempt) : null };
}

/** A packed outcome: the `detail` and the attempt `data` columns' bytes. */
export type PackedOutcome = { detail: Buffer; attempt: Buffer | null };

/**
 * An outcome's `detail` and attempt `data` as the packed columns store them (see
 * {@link outcomeTexts}: a detail that is its attempt's is stored as a reference to it).
 *
 * @example
 * ```ts
 * const { detail, attempt } = packOutcome(outcome);
 * ```
 */
export function packOutcome(outcome: Pick<DeliveryOutcome, 'detail' | 'attempt'>): PackedOutcome {
  const texts = outcomeTexts(outcome);
  return {
    detail: typeof texts.detail === 'string' ? packJson(texts.detail) : texts.detail,
    attempt: texts.attempt === null ? null : packJson(texts.attempt),
  };
}

/** An attempt row's JSON as stored: request and response may be left out, the detail's output in. */
type StoredAttempt = Omit<DeliveryAttempt, 'request' | 'response'> &
  Partial<Pick<DeliveryAttempt, 'request' | 'response'>> & { detail_output?: unknown[] };

const parseAttempt = (value: PackedValue) => JSON.parse(unpackJson(value)) as StoredAttempt;

/** An attempt as the record shows it, in the same key order, from its stored JSON. */
function attemptFromStored(stored: StoredAttempt): DeliveryAttempt {
  const { detail_output: _output, ...kept } = stored;
  if (kept.request !== undefined) return kept as DeliveryAttempt;
  const { number, status, started_at, duration_ms, pipe_version, destination_version, ...rest } = kept;
  const last = kept.exchanges[kept.exchanges.length - 1];
  return {
    number,
    status,
    started_at,
    duration_ms,
    pipe_version,
    destination_version,
    request: last?.request ?? null,
    response: last?.response ?? null,
    ...rest,
  };
}

/** An attempt row's JSON (text or packed) as the record shows it (see {@link attemptToJson}), in the same key order. */
export function attemptFromJson(value: PackedValue): DeliveryAttempt {
  return attemptFromStored(parseAttempt(value));
}
