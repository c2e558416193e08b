import { randomFillSync } from 'node:crypto';
import { z } from 'zod';

/** Id prefixes, one per kind of thing. Ids are `prefix_` + a ULID, so they sort by creation time. */
export const idPrefixes = {
  source: 'src',
  event_type: 'ety',
  pipe: 'pip',
  destination: 'dst',
  secret: 'sec',
  event: 'evt',
  delivery: 'evd',
  api_key: 'key',
  write_key: 'wrk',
  alert_channel: 'alc',
  audit: 'aud',
  profile: 'prf',
  rejection: 'rej',
} as const;

export type IdKind = keyof typeof idPrefixes;

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

// Randomness is drawn from a pooled buffer refilled 4 KiB at a time: one syscall per ~250 ids
// instead of one per id (ingest makes two ids per event per pipe).
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
function randomDigits(): number[] {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const digits = new Array<number>(16);
  for (let i = 0; i < 16; i++) digits[i] = pool[poolOffset + i]! & 31;
  poolOffset += 16;
  return digits;
}

let lastTime = -1;
let lastRandom: number[] = [];
/** `lastTime` encoded, and the first 15 digits of `lastRandom` as text: made again only when they change. */
let lastTimeText = '';
let lastRandomHead = '';

function headOf(digits: number[]): string {
  let out = '';
  for (let i = 0; i < 15; i++) out += crockford[digits[i]!];
  return out;
}

/**
 * A ULID: 48 bits of milliseconds, 80 bits of randomness. Within one millisecond the random part
 * is incremented, so ids made in the same millisecond sort in creation order. The time part is
 * always the time given (stores answer time ranges with id ranges), even if a clock went back.
 */
function nextUlid(time: number): string {
  if (time === lastTime) {
    let i = 15;
    while (i >= 0 && lastRandom[i] === 31) lastRandom[i--] = 0;
    if (i < 0) throw new Error('ULID random part overflowed within one millisecond');
    lastRandom[i]!++;
    // Mostly only the last digit moved (31 times in 32).
    if (i < 15) lastRandomHead = headOf(lastRandom);
  } else {
    lastTime = time;
    lastTimeText = encodeTimeOnly(time);
    lastRandom = randomDigits();
    lastRandomHead = headOf(lastRandom);
  }
  return lastTimeText + lastRandomHead + crockford[lastRandom[15]!];
}

/**
 * A new prefixed, sortable id.
 *
 * @example
 * ```ts
 * newId('pipe'); // 'pip_01JD4...'
 * ```
 */
export function newId(kind: IdKind, now: number = Date.now()): string {
  return `${idPrefixes[kind]}_${nextUlid(now)}`;
}

/**
 * The pattern of an id of `kind` (for JSON Schemas and OpenAPI parameters).
 *
 * @example
 * ```ts
 * idPattern('pipe'); // '^pip_[0-9A-HJKMNP-TV-Z]{26}$'
 * ```
 */
export function idPattern(kind: IdKind): string {
  return `^${idPrefixes[kind]}_[0-9A-HJKMNP-TV-Z]{26}$`;
}

const idPatterns = new Map<IdKind, RegExp>();

/** True when `id` looks like an id of `kind`. */
export function isId(kind: IdKind, id: string): boolean {
  let pattern = idPatterns.get(kind);
  if (!pattern) {
    pattern = new RegExp(idPattern(kind));
    idPatterns.set(kind, pattern);
  }
  return pattern.test(id);
}

/**
 * A list's `cursor`: the `next_cursor` a previous page gave, which is the id of that page's last
 * item. Anything else (garbage, another list's id) is refused with the field's path, instead of
 * answering a page that starts at an arbitrary place.
 *
 * @example
 * ```ts
 * cursorSchema('delivery').parse(page.next_cursor);
 * ```
 */
export function cursorSchema(kind: IdKind) {
  return z
    .string()
    .regex(
      new RegExp(idPattern(kind)),
      `not a cursor of this list: pass back the next_cursor of the previous page (an ${idPrefixes[kind]}_… id)`,
    );
}

/** The largest time an id can encode (48 bits of milliseconds, the year 10889). */
const MAX_ID_TIME = 2 ** 48 - 1;

/**
 * The smallest id of `kind` created at or after `time` (for time-range cursors over ids). A time
 * outside what ids encode is clamped: before 1970 is before every id, past the last encodable
 * millisecond after every one (never a malformed bound that sorts after everything).
 *
 * @example
 * ```ts
 * idAtTime('delivery', Date.parse('1969-12-31T23:59:59Z')); // 'evd_00000000000000000000000000'
 * ```
 */
export function idAtTime(kind: IdKind, time: number): string {
  const clamped = Number.isNaN(time) ? 0 : Math.min(Math.max(Math.floor(time), 0), MAX_ID_TIME);
  return `${idPrefixes[kind]}_${encodeTimeOnly(clamped)}0000000000000000`;
}

/** Creation time encoded in an id, ms since the epoch. */
export function idTime(id: string): number {
  const ulid = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 11);
  let time = 0;
  for (const char of ulid) {
    const digit = crockford.indexOf(char);
    if (digit < 0) throw new Error(`"${id}" is not an OpenPipes id`);
    time = time * 32 + digit;
  }
  return time;
}

function encodeTimeOnly(time: number): string {
  let out = '';
  let t = time;
  for (let i = 0; i < 10; i++) {
    out = crockford[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}
