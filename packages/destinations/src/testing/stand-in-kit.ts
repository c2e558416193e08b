/**
 * What every platform stand-in shares (tests only; platforms.ts and the <platform>-platform.ts
 * files): the contract-violation list, scripted answers, and the checks for hashed and unhashed
 * values. Each stand-in answers a request that breaks the platform's contract with the platform's
 * own error AND lists it in `violations`, which a test expects to stay empty.
 */
import type { RecordedTestRequest, TestResponse } from '@openpipes/core/testing';

export type Json = Record<string, unknown>;
export type Scripted = TestResponse | ((request: RecordedTestRequest) => TestResponse);

const sha256Hex = /^[0-9a-f]{64}$/;
const anyCaseHex = /^[0-9a-fA-F]{64}$/;

/** True when a value is a lowercase SHA-256 hex digest, or a non-empty array of them. */
export function isHashed(value: unknown): boolean {
  const values = Array.isArray(value) ? value : [value];
  return values.length > 0 && values.every((v) => typeof v === 'string' && sha256Hex.test(v));
}

/** True when a value looks hashed although the platform wants it plain (IP, user agent, click ids). */
export function looksHashed(value: unknown): boolean {
  return typeof value === 'string' && anyCaseHex.test(value);
}

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The stand-in's common surface. */
export interface StandIn {
  handler: (request: RecordedTestRequest) => TestResponse;
  /** Contract violations seen, one line each. */
  violations: string[];
  /** Answers the next requests with these (after the contract checks pass). */
  answerNext(...answers: Scripted[]): void;
}

/** Scripted answers, taken in order once a request passed the contract checks. */
export function scriptQueue() {
  const queue: Scripted[] = [];
  return {
    push: (...answers: Scripted[]) => queue.push(...answers),
    take(request: RecordedTestRequest): TestResponse | undefined {
      const next = queue.shift();
      if (!next) return undefined;
      return typeof next === 'function' ? next(request) : next;
    },
  };
}

/** The query parameters of a recorded request's URL (path + query). */
export function queryOf(request: RecordedTestRequest): URLSearchParams {
  return new URL(request.url, 'http://stand-in').searchParams;
}

/** The path of a recorded request's URL, without the query. */
export function pathOf(request: RecordedTestRequest): string {
  return new URL(request.url, 'http://stand-in').pathname;
}

/** Keys of `object` outside `allowed` (platforms that reject unknown fields). */
export function unknownKeys(object: Json, allowed: readonly string[]): string[] {
  return Object.keys(object).filter((key) => !allowed.includes(key));
}
