import { decodeTime, monotonicFactory } from 'ulid';

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
  alert_channel: 'alc',
  audit: 'aud',
} as const;

export type IdKind = keyof typeof idPrefixes;

const nextUlid = monotonicFactory();

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

/** True when `id` looks like an id of `kind`. */
export function isId(kind: IdKind, id: string): boolean {
  return new RegExp(`^${idPrefixes[kind]}_[0-9A-HJKMNP-TV-Z]{26}$`).test(id);
}

/** The smallest id of `kind` created at or after `time` (for time-range cursors over ids). */
export function idAtTime(kind: IdKind, time: number): string {
  return `${idPrefixes[kind]}_${encodeTimeOnly(time)}0000000000000000`;
}

/** Creation time encoded in an id, ms since the epoch. */
export function idTime(id: string): number {
  return decodeTime(id.slice(id.indexOf('_') + 1));
}

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
function encodeTimeOnly(time: number): string {
  let out = '';
  let t = time;
  for (let i = 0; i < 10; i++) {
    out = crockford[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}
