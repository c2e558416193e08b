/**
 * The OpenAPI 3.1 document, generated from the route table and the same zod schemas the handler
 * and the engine validate with (`z.toJSONSchema`), so the document cannot drift from the code.
 * Every status an operation can answer is listed (no `default`), and a test checks every answer
 * the suites see against it (test/openapi-check.ts).
 */
import {
  alertChannelConfigSchema,
  alertChannelInputSchema,
  alertChannelSchema,
  apiKeyInputSchema,
  apiKeySchema,
  auditEntrySchema,
  configDocumentSchema,
  configEntityKinds,
  configImportResultSchema,
  deliverySchema,
  destinationInputSchema,
  destinationSchema,
  eventTypeInputSchema,
  eventTypeSchema,
  pipeInputSchema,
  pipeSchema,
  secretInputSchema,
  secretKeySchema,
  secretSchema,
  sourceInputSchema,
  sourceSchema,
} from '@openpipes/core';
import { z } from 'zod';
import type { DocSchema, Route } from './route.js';
import { errorBodySchema, templateDestinationBodySchema } from './schemas.js';

type JsonSchema = Record<string, unknown>;

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

/** Entities: the returned shape, what create and PATCH take, and what a version holds when it differs. */
const entities: Array<{
  name: string;
  entity: z.ZodType;
  input: z.ZodType;
  patch: z.ZodType;
  version?: string;
}> = [
  { name: 'Source', entity: sourceSchema, input: sourceInputSchema, patch: sourceInputSchema.partial() },
  {
    name: 'EventType',
    entity: eventTypeSchema,
    input: eventTypeInputSchema,
    patch: eventTypeInputSchema.partial(),
  },
  {
    name: 'Secret',
    entity: secretSchema,
    input: secretInputSchema,
    patch: z.strictObject({ key: secretKeySchema.optional(), description: z.string().max(2000).optional() }),
  },
  {
    name: 'Destination',
    entity: destinationSchema,
    input: destinationInputSchema,
    patch: destinationInputSchema.partial(),
  },
  { name: 'Pipe', entity: pipeSchema, input: pipeInputSchema, patch: pipeInputSchema.partial() },
  {
    name: 'AlertChannel',
    entity: alertChannelSchema,
    // The webhook is `url` or `url_secret_id`, exactly one of them (the engine refuses both or none).
    input: alertChannelInputSchema.meta({ oneOf: [{ required: ['url'] }, { required: ['url_secret_id'] }] }),
    patch: alertChannelInputSchema.partial().meta({ not: { required: ['url', 'url_secret_id'] } }),
    version: 'AlertChannelConfig',
  },
];

/** `POST /api/event-destinations` from a template answers these too. */
const destinationCreatedSchema = destinationSchema.extend({
  default_transform: z
    .string()
    .optional()
    .describe('From a template: a transform for the pipe, to start from.'),
  required_secrets: z
    .array(z.object({ key: z.string(), description: z.string() }))
    .optional()
    .describe('From a template: the secret keys its `send()` reads.'),
});

const configProgressSchema = z.object({
  phase: z.enum(['read', 'check', 'apply']),
  done: z.number().int(),
  total: z.number().int(),
  kind: z.enum(configEntityKinds).optional(),
  name: z.string().optional(),
});

/** One line of a streamed (NDJSON) answer: progress, then the result or an error. */
function progressLine(result: string): JsonSchema {
  return {
    oneOf: [
      {
        type: 'object',
        required: ['progress'],
        additionalProperties: false,
        properties: { progress: toJsonSchema(configProgressSchema, 'output') },
      },
      {
        type: 'object',
        required: ['result'],
        additionalProperties: false,
        properties: { result: ref(result) },
      },
      {
        type: 'object',
        required: ['error'],
        additionalProperties: false,
        properties: { error: (toJsonSchema(errorBodySchema, 'output').properties as JsonSchema).error },
      },
    ],
  };
}

function components(): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  out.JsonValue = {
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
  for (const e of entities) {
    out[e.name] = toJsonSchema(e.entity, 'output');
    out[`${e.name}Input`] = toJsonSchema(e.input, 'input');
    out[`${e.name}Patch`] = toJsonSchema(e.patch, 'input');
    out[`${e.name}Page`] = page(e.name);
    out[`${e.name}Versions`] = {
      type: 'object',
      required: ['data'],
      additionalProperties: false,
      properties: {
        data: {
          type: 'array',
          items: {
            type: 'object',
            required: ['version', 'created_at', 'actor', 'data'],
            additionalProperties: false,
            properties: {
              version: { type: 'integer' },
              created_at: { type: 'string', format: 'date-time' },
              actor: {
                type: ['string', 'null'],
                description: 'The API key (or user) that made this version.',
              },
              data: ref(e.version ?? e.name),
            },
          },
        },
      },
    };
  }
  out.DestinationFromTemplate = toJsonSchema(templateDestinationBodySchema, 'input');
  out.DestinationCreate = { oneOf: [ref('DestinationInput'), ref('DestinationFromTemplate')] };
  out.DestinationCreated = toJsonSchema(destinationCreatedSchema, 'output');
  out.AlertChannelConfig = toJsonSchema(alertChannelConfigSchema, 'output');
  out.ApiKey = toJsonSchema(apiKeySchema, 'output');
  out.ApiKeyInput = toJsonSchema(apiKeyInputSchema, 'input');
  out.ApiKeyCreated = toJsonSchema(
    apiKeySchema.extend({ token: z.string().describe('The bearer token. Shown this once.') }),
    'output',
  );
  out.ApiKeyPage = page('ApiKey');
  out.AuditEntry = toJsonSchema(auditEntrySchema, 'output');
  out.AuditEntryPage = page('AuditEntry');
  out.Delivery = toJsonSchema(deliverySchema, 'output');
  out.ConfigDocument = toJsonSchema(configDocumentSchema, 'output');
  out.ConfigDocumentInput = toJsonSchema(configDocumentSchema, 'input');
  out.ConfigImportResult = toJsonSchema(configImportResultSchema, 'output');
  out.ConfigExportLine = progressLine('ConfigDocument');
  out.ConfigImportLine = progressLine('ConfigImportResult');
  out.Error = toJsonSchema(errorBodySchema, 'output');
  return out;
}

function page(item: string): JsonSchema {
  return {
    type: 'object',
    required: ['data', 'next_cursor'],
    additionalProperties: false,
    properties: {
      data: { type: 'array', items: ref(item) },
      next_cursor: { type: ['string', 'null'], description: 'Pass back as `cursor` for the next page.' },
    },
  };
}

function docSchema(schema: DocSchema, io: 'input' | 'output'): JsonSchema {
  return typeof schema === 'string' ? ref(schema) : toJsonSchema(schema, io);
}

/** What each error status means, for the document. */
const errorDescriptions: Record<number, string> = {
  400: 'The request is wrong: `VALIDATION_FAILED` (`details.issues[]` has each `path` and `message`), `INVALID_JSON`, `NESTING_TOO_DEEP`, `COMPILE_ERROR`, `UNKNOWN_EVENT_TYPE`.',
  401: "No API key, an unknown or revoked one (`UNAUTHORIZED`), or a collect request failing its source's auth; with `WWW-Authenticate`.",
  403: 'A read-only key writing, a browser origin the source does not allow (`FORBIDDEN`), or a disabled source (`SOURCE_DISABLED`).',
  404: 'No such id, or no source with that slug (`NOT_FOUND`, `UNKNOWN_SOURCE`).',
  409: 'A duplicate name, slug or key; something still in use; a concurrent write won (`CONFLICT`).',
  413: 'The body is over the size limit (`PAYLOAD_TOO_LARGE`), or holds too many events (`TOO_MANY_EVENTS`).',
  415: 'A Content-Type other than the accepted ones, or a charset other than UTF-8 (`UNSUPPORTED_MEDIA_TYPE`).',
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
  const admin = route.access === 'read' || route.access === 'write';
  if (admin) {
    statuses.add(401);
    // Admin routes refuse query parameters they do not take.
    if (!route.ignoresUnknownQuery) statuses.add(400);
  }
  if (route.access === 'write') {
    statuses.add(403);
    statuses.add(409);
  }
  if (route.query) statuses.add(400);
  if (route.path.includes('{')) statuses.add(404);
  if (route.body) {
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
export function buildOpenApiDocument(routes: Route[], options: { basePath: string; version: string }) {
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
      if (response.schema) content['application/json'] = { schema: docSchema(response.schema, 'output') };
      for (const [mediaType, schema] of Object.entries(response.mediaTypes ?? {})) {
        content[mediaType] = { schema: docSchema(schema, 'output') };
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
      security: route.access === 'read' || route.access === 'write' ? [{ apiKey: [] }] : [],
      ...(parameters.length > 0 ? { parameters } : {}),
      responses,
    };
    if (route.access === 'write') operation['x-openpipes-scope'] = 'write';
    if (route.body) {
      const schema = docSchema(route.body.schema, 'input');
      operation.requestBody = {
        required: route.body.required ?? false,
        content: Object.fromEntries(
          (route.body.mediaTypes ?? ['application/json']).map((t) => [t, { schema }]),
        ),
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
        'keys have the read or write scope. Errors are `{"error": {"code", "message", "details"}}`; every',
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
      schemas: components(),
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
