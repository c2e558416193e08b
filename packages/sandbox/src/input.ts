/**
 * The depth limit on what the host hands into the guest: a transform's events and profiles, a
 * send()'s events. Core refuses such values at ingest (`maxJsonDepth`), but a direct caller of the
 * sandbox may not, and the host encodes its input before any guest code runs: nested deeper than
 * the host's stack, a value would throw a RangeError out of the encoder instead of failing its call.
 * Deeper than the limit is `NESTING_TOO_DEEP` for that call only, found without unbounded recursion.
 */
import { BjsonTooDeep, encodeBjson, encodeBjsonOrUndefined, maxValueDepth } from './bjson.js';
import { failureError } from './errors.js';
import type { SandboxFailure } from './types.js';

/**
 * Levels of an input around an event's fields (the events array, the event object), not counted:
 * an event's fields may nest {@link maxValueDepth} levels, as an output's may (core's ingest allows
 * 512 counting the event object, so nothing core accepts is refused here).
 */
const INPUT_WRAPPER_LEVELS = 2;
const maxInputDepth = maxValueDepth + INPUT_WRAPPER_LEVELS;

/** The failure of a call whose input nests deeper than the limit. */
function inputTooDeep(call: 'transform' | 'send()'): SandboxFailure {
  return { code: 'NESTING_TOO_DEEP', message: `${call} ${new BjsonTooDeep('input').message}` };
}

/**
 * A call's input (a transform's events, a send()'s events; profiles: {@link encodeProfiles}) as
 * bjson, in one bounded walk (no depth check before it): what the guest reads is what
 * `JSON.parse(JSON.stringify(input))` would give (writer.ts); an input that `JSON.stringify`
 * answers `undefined` for is `null`. Why bjson and not a bounded JSON text: the guest then reads the events
 * without a `JSON.parse` (for 500 Meta-shaped events ~5 ms of QuickJS time a send()), for 10-15 %
 * more host time than the depth check and the native `JSON.stringify` together, where a
 * depth-bounded `JSON.stringify` in JavaScript cost 1.7x (docs/sandbox.md, "Performance"). Throws a `SandboxError`
 * `NESTING_TOO_DEEP` for an input nested deeper than the limit, and what `JSON.stringify` throws
 * (a BigInt, a getter that throws) as it is.
 */
export function encodeInput(input: unknown, call: 'transform' | 'send()'): Uint8Array {
  return bounded(() => encodeBjson(input, maxInputDepth), call);
}

/**
 * A transform's profiles as {@link encodeInput} encodes them, but `undefined` where
 * `JSON.stringify(profiles)` is (a function, a toJSON answering undefined): the guest then gets
 * `undefined`, as for no profiles, as it did when they crossed as JSON text, not the `null` an
 * events array holds in such a place (a transform's `profiles = {}` default applies to the one).
 */
export function encodeProfiles(profiles: unknown): Uint8Array | undefined {
  return bounded(() => encodeBjsonOrUndefined(profiles, maxInputDepth), 'transform');
}

/** Runs an encoding of a call's input, its depth limit reached a `NESTING_TOO_DEEP` failure. */
function bounded<T>(encode: () => T, call: 'transform' | 'send()'): T {
  try {
    return encode();
  } catch (err) {
    if (err instanceof BjsonTooDeep) throw failureError(inputTooDeep(call));
    throw err;
  }
}
