/**
 * The record codec: how a delivery's `detail` and an attempt's `data` are stored (migration 11).
 * Both are JSON that repeats from record to record (the same keys, headers and response shapes) and
 * within one record (a transform's output is the request's payload again), so each is stored as
 * bytes: a one-byte tag, then the JSON compressed with raw deflate (node:zlib, which every supported
 * Node version reads) primed with a fixed dictionary of that common text. The tag says how the rest
 * reads, so the format can change later without rewriting old rows:
 *
 * - a value stored as text (SQLite rows written before migration 11), or bytes that begin with a
 *   JSON character (PostgreSQL's rows, converted by the migration, and any value compression would
 *   not shrink): the JSON itself, as UTF-8;
 * - tag 0x01: raw deflate with {@link dictionaryV1};
 * - tag 0x02, then an attempt number in ASCII digits (a delivery's `detail` only, written since
 *   issue 14's follow-up): not JSON but a reference. The detail is that attempt's: its request,
 *   response and error are the attempt's, and its output is stored in the attempt's row under
 *   `detail_output` (see `records.ts`, `packOutcome`). The engine writes both from the same objects,
 *   so a delivered record is packed once (the attempt, with the output) instead of twice, and the
 *   request and response are stored once. Readers resolve it with that attempt's row.
 *
 * The stored bytes decode to the very text the engine wrote (or, for a reference, to the very
 * detail), so a record reads back exactly as before; rows of every earlier form still read.
 * Nothing in SQL looks inside these columns; erasure replaces them whole (details and attempts
 * alike, so a reference never outlives the attempt it names).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';

/** A packed column as a driver returns it: bytes, or JSON text written before migration 11. */
export type PackedValue = string | Uint8Array;

const tagDeflateV1 = 0x01;
const tagAttemptRef = 0x02;

/**
 * Version 1's dictionary: text every detail and attempt carries. Never change it (rows written with
 * it decode only with it); a new dictionary is a new tag. Deflate matches the end of the
 * dictionary most cheaply, so the most common text comes last.
 */
const dictionaryV1 = Buffer.from(
  [
    '"x-request-id":"","server":"","cache-control":"no-cache","content-length":"',
    '"text/plain","application/x-www-form-urlencoded","authorization":"[secret:',
    '"transfer-encoding":"chunked"},"body":{"error":{"message":"","code":',
    '"logs":[{"level":"info","message":"","at":"',
    '"filtered","failed","retrying","reason":"',
    '{"number":1,"status":"delivered","started_at":"","duration_ms":',
    ',"pipe_version":1,"destination_version":1,"error":null,"exchanges":[',
    '{"output":[{"event_type":"","event_time":"","event_payload":{"event_name":"","event_id":"',
    '"user_data":{"em":"","ph":"","client_ip_address":"","client_user_agent":"Mozilla/5.0 ',
    '"custom_data":{"currency":"EUR","value":},"action_source":"website"}}],',
    '"request":{"url":"https://","method":"POST","headers":{"content-type":"application/json"},',
    '"payload":{"data":[{"access_token":"[secret:"}},',
    '"response":{"status":200,"headers":{"connection":"keep-alive","content-type":"application/json",',
    '"date":"GMT","keep-alive":"timeout=5","transfer-encoding":"chunked"},"body":{}},"error":null,',
    '"started_at":"2026-01-01T00:00:00.000Z","duration_ms":}],"logs":[]}',
  ].join(''),
);

/**
 * The deflate level values are packed at. Level 3 (zlib's fast matcher, no lazy matching) instead
 * of the default 6: measured on the Meta example's delivered attempts (~1.9 KB of JSON each), it
 * packs each in ~8% less CPU for ~2% more bytes (511 → 522), on the thread that packs every
 * outcome. The stream format is the same (the tag stays 0x01): inflating reads any level, so rows
 * written at 6 read as before.
 */
const packLevel = 3;

/**
 * JSON text as the bytes a packed column stores.
 *
 * @example
 * ```ts
 * run(update, packJson(JSON.stringify(detail)), id);
 * ```
 */
export function packJson(text: string): Buffer {
  const plain = Buffer.from(text, 'utf8');
  // Short texts (an empty detail) gain nothing: stored as they are, which the first byte tells.
  if (plain.length < 96) return plain;
  // A window just large enough for the dictionary and the text, and a hash table to match: zlib
  // sets up its state on every call, and the default (32 KiB window, 128 KiB of hash chains) costs
  // several times the compression of a 2 KB record. Inflating needs no such hint.
  const windowBits = Math.min(15, Math.max(10, Math.ceil(Math.log2(plain.length + dictionaryV1.length))));
  const packed = deflateRawSync(plain, {
    dictionary: dictionaryV1,
    windowBits,
    memLevel: Math.min(8, windowBits - 6),
    level: packLevel,
    // The output buffer zlib fills: 16 KiB by default, allocated on every call for a value that
    // packs to a few hundred bytes. One the size of the text holds what is worth keeping (a larger
    // result is stored plain), and a longer one is read in more chunks; the bytes are the same.
    chunkSize: Math.min(plain.length, 16 * 1024),
  });
  if (packed.length + 1 >= plain.length) return plain;
  const out = Buffer.allocUnsafe(packed.length + 1);
  out[0] = tagDeflateV1;
  packed.copy(out, 1);
  return out;
}

/**
 * A packed column's JSON text, whichever way it was stored (see the module's note).
 *
 * @example
 * ```ts
 * const detail = JSON.parse(unpackJson(row.detail));
 * ```
 */
export function unpackJson(value: PackedValue): string {
  if (typeof value === 'string') return value;
  const bytes = Buffer.isBuffer(value)
    ? value
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (bytes.length > 0 && bytes[0] === tagDeflateV1)
    return inflateRawSync(bytes.subarray(1), { dictionary: dictionaryV1 }).toString('utf8');
  // A reference holds no JSON of its own: shown as what it names (for dumps and searches).
  if (bytes.length > 0 && bytes[0] === tagAttemptRef) return `{"attempt":${attemptRefOf(bytes)}}`;
  return bytes.toString('utf8');
}

/**
 * A detail stored as a reference to attempt `number` of the same delivery (tag 0x02).
 *
 * @example
 * ```ts
 * packAttemptRef(1); // <Buffer 02 31>
 * ```
 */
export function packAttemptRef(number: number): Buffer {
  const digits = Buffer.from(String(number), 'latin1');
  const out = Buffer.allocUnsafe(digits.length + 1);
  out[0] = tagAttemptRef;
  digits.copy(out, 1);
  return out;
}

/**
 * The attempt number a stored detail refers to, or null when it holds its own JSON.
 *
 * @example
 * ```ts
 * attemptRefOf(packAttemptRef(3)); // 3
 * attemptRefOf('{"output":null}'); // null
 * ```
 */
export function attemptRefOf(value: PackedValue): number | null {
  if (typeof value === 'string' || value.length < 2 || value[0] !== tagAttemptRef) return null;
  let n = 0;
  for (let i = 1; i < value.length; i++) n = n * 10 + (value[i] as number) - 48;
  return n;
}
