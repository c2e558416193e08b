/**
 * Validation in one place: zod failures become `VALIDATION_FAILED` errors with field paths, and
 * event types' JSON Schemas are compiled once (ajv) and reused for every event.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { z } from 'zod';
import { PipesError } from './errors.js';
import { findUnstorableJson } from './json-value.js';

/** One problem with an input, at a path such as `events[3].event_time`. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Formats a path array as `a.b[2].c`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/**
 * zod issues as {@link FieldIssue}s. An unknown key (strict objects) is reported at its own path,
 * one issue per key, so the answer names it.
 */
export function zodIssues(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = []): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: formatPath([...prefix, ...issue.path, key]),
        message: 'unknown field (not part of this object; check its spelling)',
      }));
    }
    return [{ path: formatPath([...prefix, ...issue.path]) || '(root)', message: issue.message }];
  });
}

/**
 * Parses an input with a zod schema or throws `VALIDATION_FAILED` listing every field at fault.
 * The input is first checked to be JSON OpenPipes keeps as given on every store (no NUL, no lone
 * surrogate, finite numbers, ...: see {@link findUnstorableJson}); that problem is then the one
 * reported, with its path.
 *
 * @example
 * ```ts
 * const { version } = parseOrThrow(z.object({ version: z.number().int() }), body, 'revert');
 * ```
 */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const unstorable = findUnstorableJson(value);
  if (unstorable) throw validationFailed([unstorable], what);
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw validationFailed(zodIssues(result.error), what);
}

/** `VALIDATION_FAILED` with the issues, summarised (the first three) in the message. */
function validationFailed(issues: FieldIssue[], what: string): PipesError {
  const summary = issues
    .slice(0, 3)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
  return new PipesError({
    code: 'VALIDATION_FAILED',
    message: `invalid ${what}: ${summary}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''}`,
    details: { issues },
  });
}

// ajv-formats is CommonJS; its default export arrives wrapped under some bundlers.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => void;

/** A compiled JSON Schema: returns null when valid, or the issues. */
export type PayloadValidator = (payload: unknown) => FieldIssue[] | null;

/** Compiles JSON Schemas for event payloads. One instance per engine; schemas are cached by text. */
export function createSchemaCompiler(): (schema: Record<string, unknown>) => PayloadValidator {
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: true });
  addFormats(ajv);
  const cache = new Map<string, PayloadValidator>();
  return (schema) => {
    const key = JSON.stringify(schema);
    const cached = cache.get(key);
    if (cached) return cached;
    let validate: ReturnType<Ajv2020['compile']>;
    try {
      const { $schema: _ignored, ...rest } = schema;
      validate = ajv.compile(rest);
    } catch (cause) {
      throw new PipesError({
        code: 'VALIDATION_FAILED',
        message: `schema is not a valid JSON Schema: ${(cause as Error).message}`,
        details: { issues: [{ path: 'schema', message: (cause as Error).message }] },
        cause,
      });
    }
    const validator: PayloadValidator = (payload) => {
      if (validate(payload)) return null;
      return (validate.errors ?? []).map((e) => ({
        path: `event_payload${e.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.')}`,
        message: e.message ?? 'is invalid',
      }));
    };
    cache.set(key, validator);
    return validator;
  };
}
