/**
 * The depth limit on what the host hands into the guest: a transform's events and profiles, a
 * send()'s events. Core refuses such values at ingest (`maxJsonDepth`), but a direct caller of the
 * sandbox may not, and the host encodes its input before any guest code runs: nested deeper than
 * the host's stack, a value would throw a RangeError out of the encoder instead of failing its call.
 * Deeper than the limit is `NESTING_TOO_DEEP` for that call only, found without unbounded recursion.
 */
import { BjsonTooDeep, encodeBjson, maxValueDepth } from './bjson.js';
import { failureError } from './errors.js';
import type { SandboxEvent, SandboxFailure } from './types.js';

/**
 * Levels of an input around an event's fields (the events array, the event object), not counted:
 * an event's fields may nest {@link maxValueDepth} levels, as an output's may (core's ingest allows
 * 512 counting the event object, so nothing core accepts is refused here).
 */
const INPUT_WRAPPER_LEVELS = 2;
const maxInputDepth = maxValueDepth + INPUT_WRAPPER_LEVELS;

/** The failure of a call whose input nests deeper than the limit. */
export function inputTooDeep(call: 'transform' | 'send()'): SandboxFailure {
  return { code: 'NESTING_TOO_DEEP', message: `${call} ${new BjsonTooDeep('input').message}` };
}

/**
 * Whether a value handed into the guest whole (a transform's profiles, a send()'s events) nests too
 * deep in what `JSON.stringify` makes of it, walked iteratively: an object with a `toJSON` stands
 * for what that returns, one level further down (as {@link encodeBjson} counts it), or a toJSON
 * returning a deep value would overflow the host's stack in `JSON.stringify`. A getter or toJSON
 * that throws answers false: it throws again in `JSON.stringify`, which reports it as before
 * (`send()` in its `error`: it never rejects).
 */
export function inputNestsTooDeep(value: unknown): boolean {
  try {
    return nestsTooDeep(value);
  } catch {
    return false;
  }
}

function nestsTooDeep(value: unknown): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > maxInputDepth) return true;
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      stack.push([toJSON.call(v, ''), depth + 1]);
      continue;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * A transform's events as bjson, the encoder's recursion bounded by the limit (no second walk of
 * the batch); throws a `SandboxError` `NESTING_TOO_DEEP` for a batch nested deeper.
 */
export function encodeTransformEvents(events: SandboxEvent[]): Uint8Array {
  try {
    return encodeBjson(events, maxInputDepth);
  } catch (err) {
    if (err instanceof BjsonTooDeep) throw failureError(inputTooDeep('transform'));
    throw err;
  }
}
