/**
 * The OpenAPI 3.1 document, generated from the route table and the same zod schemas the handler
 * and the engine validate with (`z.toJSONSchema`), so the document cannot drift from the code.
 * Every status an operation can answer is listed (no `default`), and a test checks every answer
 * the suites see against it (test/openapi-check.ts).
 */
import { z } from 'zod';
import { componentNames, responseComponent } from './components.js';
import { isAdminAccess, noBody, type Route } from './route.js';
import { errorBodySchema } from './schemas.js';

type JsonSchema = Record<string, unknown>;

/** The OpenAPI 3.1 document `GET /openapi.json` serves (a type, so that it is a JSON object to TypeScript). */
export type OpenApiDocument = {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string }>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, JsonSchema> };
  paths: Record<string, Record<string, unknown>>;
};

/**
 * Text OpenPipes accepts: no NUL and no lone surrogate (with the `u` flag JSON Schema patterns use,
 * a surrogate pair is one code point outside the range, so only lone surrogates match it).
 */
export const textPattern = '^[^\\u0000\\uD800-\\uDFFF]*$';

/** The characters {@link textPattern} keeps out, for strings that have a pattern of their own. */
const forbiddenText = '[\\u0000\\uD800-\\uDFFF]';

/**
 * True when a pattern can only match ASCII: anchored at both ends, made of ASCII literals and
 * classes (no `.`, negated class or `\S`-like escape). It already keeps NUL and surrogates out.
 */
const asciiOnly = (pattern: string) =>
  pattern.startsWith('^') &&
  pattern.endsWith('$') &&
  !/[.]|\[\^|\\[SWDsBpPu]|[^\x20-\x7e]/.test(pattern.replace(/\\[.]/g, ''));

/** Converts a zod schema to JSON Schema (draft 2020-12, what OpenAPI 3.1 uses). */
function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return io === 'input' ? acceptedOnly(rest) : rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

// Keywords whose value is a schema, a list of schemas, or a map of schemas (JSON Schema 2020-12).
const schemaKeywords = new Set([
  'additionalProperties',
  'items',
  'not',
  'propertyNames',
  'contains',
  'if',
  'then',
  'else',
  'unevaluatedProperties',
  'unevaluatedItems',
]);
const schemaListKeywords = new Set(['anyOf', 'oneOf', 'allOf', 'prefixItems']);
const schemaMapKeywords = new Set(['properties', 'patternProperties', '$defs', 'dependentSchemas']);

/**
 * Narrows a request schema to what the server accepts beyond zod's words: every free string gets
 * {@link textPattern} (one with a pattern of its own that could match other text gets a `not`
 * that says the same), and every "any value" (`{}`) becomes `JsonValue`, which says it for nested
 * text and keys.
 */
function acceptedOnly(schema: JsonSchema): JsonSchema {
  if (Object.keys(schema).length === 0 || (Object.keys(schema).length === 1 && 'description' in schema)) {
    return { ...schema, ...ref('JsonValue') };
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (schemaKeywords.has(key) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = acceptedOnly(value as JsonSchema);
    } else if (schemaListKeywords.has(key) && Array.isArray(value)) {
      out[key] = value.map((item) => acceptedOnly(item as JsonSchema));
    } else if (schemaMapKeywords.has(key) && value !== null && typeof value === 'object') {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, item]) => [name, acceptedOnly(item)]),
      );
    } else {
      out[key] = value;
    }
  }
  const types = Array.isArray(out.type) ? out.type : [out.type];
  if (types.includes('string') && !('format' in out || 'enum' in out || 'const' in out)) {
    if (!('pattern' in out)) out.pattern = textPattern;
    else if (!asciiOnly(out.pattern as string)) out.not = { pattern: forbiddenText };
  }
  return out;
}

const errorSchema = responseComponent('Error', errorBodySchema);

/** Any JSON value the server accepts: what `{}` (any value) becomes in what requests take. */
const jsonValue: JsonSchema = {
  description: 'Any JSON value whose text (values and keys) has no NUL and no lone surrogate.',
  anyOf: [
    { type: ['null', 'boolean', 'number'] },
    { type: 'string', pattern: textPattern },
    { type: 'array', items: ref('JsonValue') },
    {
      type: 'object',
      propertyNames: { type: 'string', pattern: textPattern },
      additionalProperties: ref('JsonValue'),
    },
  ],
};

/**
 * The JSON Schemas of one direction (what requests take, or what answers hold): every schema the
 * routes use, converted together so that a named one (components.ts) is a `$ref` wherever it
 * appears, and the unnamed ones are written where they are used.
 */
function convert(io: 'input' | 'output', used: Set<z.ZodType>) {
  const registry = z.registry<{ id: string }>();
  const unnamed = new Map<z.ZodType, string>();
  for (const [schema, id] of componentNames[io]) registry.add(schema, { id });
  for (const schema of used) {
    if (registry.has(schema)) continue;
    const id = `unnamed-${unnamed.size}`;
    unnamed.set(schema, id);
    registry.add(schema, { id });
  }
  const converted = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }).schemas as Record<string, JsonSchema>;
  const finished: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(converted)) {
    const { $schema: _dialect, $id: _id, ...rest } = schema;
    finished[id] = io === 'input' ? acceptedOnly(rest) : rest;
  }
  // An unnamed schema is written out wherever it is used, inside named ones too.
  const unnamedRef = /^#\/components\/schemas\/(unnamed-\d+)$/;
  const inline = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(inline);
    if (value === null || typeof value !== 'object') return value;
    const { $ref, ...rest } = value as JsonSchema;
    const target = typeof $ref === 'string' ? unnamedRef.exec($ref)?.[1] : undefined;
    const out = Object.fromEntries(Object.entries(rest).map(([key, item]) => [key, inline(item)]));
    if (target) return { ...(inline(finished[target]) as JsonSchema), ...out };
    return $ref === undefined ? out : { $ref, ...out };
  };
  const components: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(finished)) {
    if (!id.startsWith('unnamed-')) components[id] = inline(schema) as JsonSchema;
  }
  return {
    components,
    /** The schema to write for `schema`: a `$ref` to its name, or the schema itself. */
    schemaOf(schema: z.ZodType): JsonSchema {
      const id = unnamed.get(schema);
      return id ? (inline(finished[id]) as JsonSchema) : ref(registry.get(schema)!.id);
    },
  };
}

/** What each error status means, for the document. */
const errorDescriptions: Record<number, string> = {
  400: 'The request is wrong: `VALIDATION_FAILED` (`details.issues[]` has each `path` and `message`), `INVALID_JSON`, `NESTING_TOO_DEEP`, `COMPILE_ERROR`, `UNKNOWN_EVENT_TYPE`.',
  401: "No API key, an unknown or revoked one (`UNAUTHORIZED`), or a collect request failing its source's auth; with `WWW-Authenticate`.",
  403: 'A read-only key writing, a browser origin the source does not allow (`FORBIDDEN`), or a disabled source (`SOURCE_DISABLED`).',
  404: 'No such id, or no source with that slug (`NOT_FOUND`, `UNKNOWN_SOURCE`).',
  409: 'A duplicate name, slug or key; something still in use; a concurrent write won (`CONFLICT`).',
  413: 'The body is over the size limit (`PAYLOAD_TOO_LARGE`), or holds too many events (`TOO_MANY_EVENTS`).',
  415: 'A Content-Type other than the accepted ones, a charset other than UTF-8, or (collect) a Content-Encoding other than gzip, deflate or br (`UNSUPPORTED_MEDIA_TYPE`).',
  422: 'User code failed while the request ran it (`USER_CODE_ERROR`, `OUT_OF_MEMORY`, `STACK_OVERFLOW`, `OUTPUT_TOO_LARGE`, `INVALID_OUTPUT`).',
  500: 'An unexpected error (`INTERNAL`): the message names the request id; the server log has the rest.',
  503: 'The engine was stopped, or its store does not answer (`ENGINE_STOPPED`).',
};

/**
 * The error statuses a route can answer, from its shape: who may call it, its path parameters,
 * query and body, plus the ones it declares. Every route can fail unexpectedly (500) or find the
 * engine stopped (503).
 */
export function errorStatuses(route: Route): number[] {
  const statuses = new Set<number>([500, 503, ...(route.errors ?? [])]);
  const admin = isAdminAccess(route.access);
  if (admin) {
    statuses.add(401);
    // Admin routes refuse query parameters they do not take.
    if (!route.ignoresUnknownQuery) statuses.add(400);
  }
  if (route.access === 'write') {
    statuses.add(403);
    statuses.add(409);
  }
  if (route.access === 'privacy') statuses.add(403);
  if (route.query) statuses.add(400);
  if (route.path.includes('{')) statuses.add(404);
  if (route.body || route.rawBody) {
    statuses.add(400);
    statuses.add(413);
    statuses.add(415);
  }
  for (const status of Object.keys(route.responses)) statuses.delete(Number(status));
  return [...statuses].sort((a, b) => a - b);
}

/**
 * Builds the document for routes served under `basePath`.
 *
 * @example
 * ```ts
 * const doc = buildOpenApiDocument(routes, { basePath: '/openpipes', version: '0.1.0' });
 * ```
 */
export function buildOpenApiDocument(
  routes: Route[],
  options: { basePath: string; version: string },
): OpenApiDocument {
  const used = { input: new Set<z.ZodType>(), output: new Set<z.ZodType>([errorSchema]) };
  for (const route of routes) {
    if (route.body) used.input.add(route.body.schema);
    if (route.rawBody) used.input.add(route.rawBody.schema);
    for (const response of Object.values(route.responses)) {
      if (response.schema !== noBody) used.output.add(response.schema);
      for (const schema of Object.values(response.mediaTypes ?? {})) used.output.add(schema);
    }
  }
  const input = convert('input', used.input);
  const output = convert('output', used.output);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters: unknown[] = [];
    for (const name of route.path.match(/\{(\w+)\}/g) ?? []) {
      parameters.push({ name: name.slice(1, -1), in: 'path', required: true, schema: { type: 'string' } });
    }
    if (route.query) {
      for (const [name, field] of Object.entries(route.query.shape)) {
        const schema = toJsonSchema(field as z.ZodType, 'input');
        const { description, ...rest } = schema;
        parameters.push({
          name,
          in: 'query',
          required: !(field as z.ZodType).safeParse(undefined).success,
          ...(description ? { description } : {}),
          schema: rest,
        });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      const content: Record<string, unknown> = {};
      if (response.schema !== noBody) {
        content['application/json'] = { schema: output.schemaOf(response.schema) };
      }
      for (const [mediaType, schema] of Object.entries(response.mediaTypes ?? {})) {
        content[mediaType] = { schema: output.schemaOf(schema) };
      }
      responses[status] = {
        description: response.description,
        ...(Object.keys(content).length > 0 ? { content } : {}),
      };
    }
    for (const status of errorStatuses(route)) {
      responses[status] = {
        description: errorDescriptions[status] ?? 'An error.',
        content: { 'application/json': { schema: ref('Error') } },
      };
    }
    const operation: Record<string, unknown> = {
      operationId: operationId(route),
      summary: route.summary,
      tags: [route.tag],
      security: isAdminAccess(route.access) ? [{ apiKey: [] }] : [],
      ...(parameters.length > 0 ? { parameters } : {}),
      responses,
    };
    if (route.access === 'write' || route.access === 'privacy') operation['x-openpipes-scope'] = route.access;
    if (route.body) {
      operation.requestBody = {
        required: route.body.required ?? false,
        content: { 'application/json': { schema: input.schemaOf(route.body.schema) } },
      };
    }
    if (route.rawBody) {
      const schema = input.schemaOf(route.rawBody.schema);
      operation.requestBody = {
        required: true,
        content: Object.fromEntries(route.rawBody.mediaTypes.map((type) => [type, { schema }])),
      };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'OpenPipes',
      version: options.version,
      description: [
        'Collect endpoint and admin REST API of OpenPipes. Admin routes need `Authorization: Bearer <API key>`;',
        'keys have the read, write or privacy scope (`x-openpipes-scope` names what an operation needs beyond read;',
        'profiles and erasure need privacy). Errors are `{"error": {"code", "message", "details"}}`; every',
        'status an operation answers is listed under it.',
        '',
        'What every request body and query string must hold (400 `VALIDATION_FAILED` with the path',
        'otherwise): text, keys included, without NUL (`\\u0000`) or lone surrogates (`\\ud800`); numbers',
        'that fit a double (`1e400` does not; `-0` is taken as `0`; integers past 2^53 are rounded, so send',
        'exact ids as strings); objects with only the fields their schema lists (`additionalProperties:',
        'false`: an unknown field is refused by name). Admin routes refuse query parameters they do not',
        'take, and a parameter given twice; a parameter given empty (`?status=`) counts as not given.',
        'Collect, `/healthz` and `/openapi.json` ignore parameters they do not take (tags and load balancers add their own).',
      ].join('\n'),
    },
    servers: [{ url: options.basePath || '/' }],
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An OpenPipes API key.' } },
      schemas: { JsonValue: jsonValue, ...input.components, ...output.components },
    },
    paths,
  };
}

function operationId(route: Route): string {
  const words = route.path
    .replace(/\{(\w+)\}/g, 'by-$1')
    .split(/[/.-]/)
    .filter(Boolean);
  return [route.method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('');
}
