/**
 * The OpenAPI 3.1 document, generated from the route table and the same zod schemas the handler
 * and the engine validate with (`z.toJSONSchema`), so the document cannot drift from the code.
 */
import {
  alertChannelConfigSchema,
  alertChannelInputSchema,
  alertChannelSchema,
  apiKeyInputSchema,
  apiKeySchema,
  auditEntrySchema,
  configDocumentSchema,
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

/** Converts a zod schema to JSON Schema (draft 2020-12, what OpenAPI 3.1 uses). */
function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

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
    patch: z.object({ key: secretKeySchema.optional(), description: z.string().max(2000).optional() }),
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
    input: alertChannelInputSchema,
    patch: alertChannelInputSchema.partial(),
    version: 'AlertChannelConfig',
  },
];

function components(): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const e of entities) {
    out[e.name] = toJsonSchema(e.entity, 'output');
    out[`${e.name}Input`] = toJsonSchema(e.input, 'input');
    out[`${e.name}Patch`] = toJsonSchema(e.patch, 'input');
    out[`${e.name}Page`] = page(e.name);
    out[`${e.name}Versions`] = {
      type: 'object',
      required: ['data'],
      properties: {
        data: {
          type: 'array',
          items: {
            type: 'object',
            required: ['version', 'created_at', 'actor', 'data'],
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
  out.DestinationCreated = {
    allOf: [
      ref('Destination'),
      {
        type: 'object',
        description: 'Created from a template, the answer also has these.',
        properties: {
          default_transform: { type: 'string', description: 'A transform for the pipe, to start from.' },
          required_secrets: {
            type: 'array',
            items: {
              type: 'object',
              properties: { key: { type: 'string' }, description: { type: 'string' } },
            },
          },
        },
      },
    ],
  };
  out.AlertChannelConfig = toJsonSchema(alertChannelConfigSchema, 'output');
  out.ApiKey = toJsonSchema(apiKeySchema, 'output');
  out.ApiKeyInput = toJsonSchema(apiKeyInputSchema, 'input');
  out.ApiKeyCreated = {
    allOf: [
      ref('ApiKey'),
      {
        type: 'object',
        required: ['token'],
        properties: { token: { type: 'string', description: 'The bearer token. Shown this once.' } },
      },
    ],
  };
  out.ApiKeyPage = page('ApiKey');
  out.AuditEntry = toJsonSchema(auditEntrySchema, 'output');
  out.AuditEntryPage = page('AuditEntry');
  out.Delivery = toJsonSchema(deliverySchema, 'output');
  out.ConfigDocument = toJsonSchema(configDocumentSchema, 'output');
  out.ConfigDocumentInput = toJsonSchema(configDocumentSchema, 'input');
  out.ConfigImportResult = toJsonSchema(configImportResultSchema, 'output');
  out.Error = toJsonSchema(errorBodySchema, 'output');
  return out;
}

function page(item: string): JsonSchema {
  return {
    type: 'object',
    required: ['data', 'next_cursor'],
    properties: {
      data: { type: 'array', items: ref(item) },
      next_cursor: { type: ['string', 'null'], description: 'Pass back as `cursor` for the next page.' },
    },
  };
}

function docSchema(schema: DocSchema, io: 'input' | 'output'): JsonSchema {
  return typeof schema === 'string' ? ref(schema) : toJsonSchema(schema, io);
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
    const operation: Record<string, unknown> = {
      operationId: operationId(route),
      summary: route.summary,
      tags: [route.tag],
      security: route.access === 'read' || route.access === 'write' ? [{ apiKey: [] }] : [],
      ...(parameters.length > 0 ? { parameters } : {}),
      responses: {
        ...Object.fromEntries(
          Object.entries(route.responses).map(([status, response]) => [
            status,
            {
              description: response.description,
              ...(response.schema
                ? { content: { 'application/json': { schema: docSchema(response.schema, 'output') } } }
                : {}),
            },
          ]),
        ),
        default: {
          description: 'An error: `{"error": {"code", "message", "details"}}`.',
          content: { 'application/json': { schema: ref('Error') } },
        },
      },
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
      description:
        'Collect endpoint and admin REST API of OpenPipes. Admin routes need `Authorization: Bearer <API key>`; ' +
        'keys have the read or write scope. Errors are `{"error": {"code", "message", "details"}}`.',
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
