/** Reading an admin route's JSON body: `{}` when empty, else a JSON object parsed with the route's schema. */
import { PipesError, parseOrThrow } from '@openpipes/core';
import type { z } from 'zod';
import { checkMediaType, readBody } from './body.js';
import { decodeUtf8, parseJson } from './json.js';
import type { BodySpec, JsonObject } from './route.js';

/**
 * Reads an admin API body (`{}` when empty, else a JSON object), notes its sensitive values, and
 * parses it with the route's schema.
 */
export async function readRouteBody(
  request: Request,
  spec: BodySpec<z.ZodType>,
  limits: { maxBodyBytes: number; maxDepth: number },
  sensitive: string[],
): Promise<unknown> {
  const body = await readJsonObject(request, limits);
  for (const field of spec.sensitive ?? []) {
    const value = body[field];
    if (typeof value === 'string') sensitive.push(value);
  }
  return spec.parse ? spec.parse(body) : parseOrThrow(spec.schema, body, spec.label);
}

/** Reads an admin API body: `{}` when empty, else a JSON object. */
async function readJsonObject(
  request: Request,
  limits: { maxBodyBytes: number; maxDepth: number },
): Promise<JsonObject> {
  // Read first: a bodiless PUT (`/toggle`) may come without any Content-Type, and that is fine.
  const raw = await readBody(request, limits.maxBodyBytes);
  if (raw.byteLength === 0) return {};
  checkMediaType(request, ['application/json']);
  const value = parseJson(decodeUtf8(raw), limits.maxDepth);
  if (!isJsonObject(value)) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: 'the body must be a JSON object',
      details: { issues: [{ path: '(root)', message: 'expected an object' }] },
    });
  }
  return value;
}

function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
