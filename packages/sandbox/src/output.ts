/**
 * Reading what guest code returns. Guest output is hostile data: it is parsed so that keys able to
 * reach a prototype (`__proto__`, `constructor`, `prototype`) never exist on host objects, and
 * transform output is validated into {@link SandboxEvent}s with errors that name the exact path.
 */
import type { SandboxEvent } from './types.js';

const DANGEROUS_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
// A JSON text can only produce a dangerous key if it spells one, directly or through a \u escape.
const MAY_HAVE_DANGEROUS_KEY = /__proto__|constructor|prototype|\\u/;

/**
 * Removes prototype-reaching keys, in place, from a freshly parsed JSON value. Iterative: a value
 * nested deeper than the host's stack is walked too (see {@link nestsDeeperThan}).
 */
function stripDangerousKeys(value: unknown): unknown {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
      continue;
    }
    const obj = v as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (DANGEROUS_KEYS.has(key)) delete obj[key];
      else stack.push(obj[key]);
    }
  }
  return value;
}

/** Whether objects and arrays in a JSON value nest more than `max` levels (walked iteratively). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * `JSON.parse` for text produced by guest code. `JSON.parse` already defines `__proto__` as an own
 * key rather than setting the prototype, but a later `Object.assign` or spread would; so such keys
 * are removed outright.
 *
 * @example
 * ```ts
 * safeJsonParse('{"__proto__":{"admin":true},"a":1}'); // { a: 1 }
 * ```
 */
export function safeJsonParse(text: string): unknown {
  const value: unknown = JSON.parse(text);
  return MAY_HAVE_DANGEROUS_KEY.test(text) ? stripDangerousKeys(value) : value;
}

/** Removes dangerous keys from any plain value produced by a decoder other than JSON.parse. */
export function sanitizeValue(value: unknown): unknown {
  return stripDangerousKeys(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A failed validation: what is wrong, and where (`output[2].event_payload`). */
export class OutputValidationError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** A filter reason: short, plain, safe to store and to put in a metric label. */
const filterReasonPattern = /^[A-Za-z0-9_.:-]{1,64}$/;

/** What one transform call returned for one event: its outputs, or why it gave none. */
export interface TransformOutput {
  outputs: SandboxEvent[];
  /** Set when the transform filtered the event with `{ filter_reason: '...' }`. */
  filter_reason?: string;
}

/**
 * Reads what one transform call returned for one event: {@link validateTransformOutput}, plus
 * the filter marker. A transform that filters an event may say why by returning
 * `{ filter_reason: 'no_click_id' }` (alone, or as the only element of the array) instead of
 * nothing; the delivery is then recorded as `filtered` with that reason. A marker beside events,
 * or a reason that is not 1-64 of `A-Z a-z 0-9 _ . : -`, is `INVALID_OUTPUT`.
 *
 * @example
 * ```ts
 * readTransformOutput({ filter_reason: 'no_click_id' }); // { outputs: [], filter_reason: 'no_click_id' }
 * readTransformOutput([]); // { outputs: [] }
 * ```
 */
export function readTransformOutput(value: unknown): TransformOutput {
  const list = Array.isArray(value) ? value : value === null || value === undefined ? [] : [value];
  let reason: string | undefined;
  let markers = 0;
  for (let i = 0; i < list.length; i++) {
    const item = list[i] as Record<string, unknown> | null;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) continue;
    if (!('filter_reason' in item) || 'event_type' in item) continue;
    const at = Array.isArray(value) ? `output[${i}].filter_reason` : 'output.filter_reason';
    const given = item.filter_reason;
    if (typeof given !== 'string' || !filterReasonPattern.test(given)) {
      throw new OutputValidationError(
        at,
        `expected 1-64 characters of A-Z a-z 0-9 _ . : -, got ${typeof given === 'string' ? JSON.stringify(given.slice(0, 80)) : describe(given)}`,
      );
    }
    markers++;
    reason ??= given;
  }
  if (markers === 0) return { outputs: validateTransformOutput(value) };
  if (markers !== list.length) {
    throw new OutputValidationError(
      'output',
      'a filter marker ({ filter_reason }) cannot stand beside events: return the events, or the marker alone',
    );
  }
  return { outputs: [], filter_reason: reason! };
}

/**
 * Validates what one transform call returned. Accepts an array of events, a single event (treated
 * as `[event]`), or `null`/`undefined` (treated as `[]`, filtered). Keeps `event_type`, `event_time`,
 * `event_payload` and a string `event_id`; other top-level keys are dropped.
 */
export function validateTransformOutput(value: unknown): SandboxEvent[] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  const out: SandboxEvent[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const item = list[i] as Record<string, unknown> | null;
    const at = Array.isArray(value) ? `output[${i}]` : 'output';
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new OutputValidationError(at, `expected an event object, got ${describe(item)}`);
    }
    const { event_type, event_time, event_payload, event_id } = item;
    if (typeof event_type !== 'string') {
      throw new OutputValidationError(`${at}.event_type`, `expected string, got ${describe(event_type)}`);
    }
    if (typeof event_time !== 'string') {
      throw new OutputValidationError(`${at}.event_time`, `expected string, got ${describe(event_time)}`);
    }
    if (event_payload === null || typeof event_payload !== 'object' || Array.isArray(event_payload)) {
      throw new OutputValidationError(
        `${at}.event_payload`,
        `expected object, got ${describe(event_payload)}`,
      );
    }
    const event: SandboxEvent = {
      event_type,
      event_time,
      event_payload: event_payload as Record<string, unknown>,
    };
    if (typeof event_id === 'string') event.event_id = event_id;
    out[i] = event;
  }
  return out;
}
