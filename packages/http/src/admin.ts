/**
 * long-file: the admin routes are being declared per resource (issue 13, HTTP routes); marker until then
 *
 * The admin REST API under `/api`: one set of routes per collection (sources, event types,
 * secrets, event destinations, pipes, alert channels), plus deliveries, replay, stats, the audit
 * trail and API keys. Every mutation passes the API key's name and the request id to the engine
 * for the audit trail.
 */
import {
  type ActorContext,
  alertChannelDeliverySchema,
  type ConfigProgress,
  type DestinationTemplate,
  deliverySchema,
  type IdKind,
  type Logger,
  type Pipes,
  PipesError,
  parseOrThrow,
  silentLogger,
  toPipesError,
} from '@openpipes/core';
import { z } from 'zod';
import { json, type Route, type RouteContext } from './route.js';
import {
  auditQueryParamsSchema,
  bindSecretsBodySchema,
  configImportQuerySchema,
  deliveriesQuerySchema,
  listQuerySchema,
  pageSchema,
  replayBodySchema,
  revertBodySchema,
  secretValueBodySchema,
  templateDestinationBodySchema,
  toggleBodySchema,
} from './schemas.js';

/** The registry operations the generic routes use (every core registry has them). */
interface CrudRegistry {
  create(input: never, context?: ActorContext): Promise<unknown>;
  get(id: string): Promise<unknown>;
  list(options?: { cursor?: string; limit?: number }): Promise<unknown>;
  update(id: string, patch: never, context?: ActorContext): Promise<unknown>;
  delete(id: string, context?: ActorContext): Promise<void>;
  versions(id: string): Promise<unknown[]>;
  revert(id: string, version: number, context?: ActorContext): Promise<unknown>;
  toggle?(id: string, enabled?: boolean, context?: ActorContext): Promise<unknown>;
}

interface Collection {
  /** Path segment: `/api/<path>`. */
  path: string;
  /** The kind of its ids (list cursors are ids of this kind). */
  idKind: IdKind;
  /** The OpenAPI component names: entity, create body, patch body. */
  entity: string;
  label: string;
  tag: string;
  registry: CrudRegistry;
  toggle: boolean;
  /** Replaces the generic create (templates for destinations, values for secrets). */
  create?: (context: RouteContext, body: Record<string, unknown>) => Promise<Response>;
  /** Checks a patch before it is applied. */
  checkPatch?: (body: Record<string, unknown>, context: RouteContext) => void;
}

const idParam = '{id}';

export interface AdminOptions {
  templates: DestinationTemplate[];
  /** Where failures inside a streamed answer (which has already sent its status) are logged. */
  logger?: Logger;
}

const apiKeyListQuery = listQuerySchema('api_key');

/** Every admin route. */
export function adminRoutes(pipes: Pipes, options: AdminOptions): Route[] {
  const collections: Collection[] = [
    {
      path: 'sources',
      idKind: 'source',
      entity: 'Source',
      label: 'source',
      tag: 'Sources',
      registry: pipes.sources,
      toggle: true,
    },
    {
      path: 'event-types',
      idKind: 'event_type',
      entity: 'EventType',
      label: 'event type',
      tag: 'Event types',
      registry: pipes.eventTypes,
      toggle: false,
    },
    {
      path: 'secrets',
      idKind: 'secret',
      entity: 'Secret',
      label: 'secret',
      tag: 'Secrets',
      registry: pipes.secrets,
      toggle: false,
      async create(context, body) {
        if (typeof body.value === 'string') context.sensitive.push(body.value);
        return json(201, await pipes.secrets.create(body as never, context.actor));
      },
      checkPatch(body) {
        if ('value' in body) {
          throw new PipesError({
            code: 'VALIDATION_FAILED',
            message: 'value: a secret value is rotated with PUT /api/secrets/{id}/value, not PATCH',
            details: {
              issues: [{ path: 'value', message: 'rotate the value with PUT /api/secrets/{id}/value' }],
            },
          });
        }
      },
    },
    {
      path: 'event-destinations',
      idKind: 'destination',
      entity: 'Destination',
      label: 'event destination',
      tag: 'Event destinations',
      registry: pipes.destinations,
      toggle: true,
      async create(context, body) {
        // A template's name is a string; a destination's own `template` field is an object.
        if (typeof body.template !== 'string')
          return json(201, await pipes.destinations.create(body as never, context.actor));
        return createFromTemplate(pipes, options.templates, context, body);
      },
    },
    {
      path: 'pipes',
      idKind: 'pipe',
      entity: 'Pipe',
      label: 'pipe',
      tag: 'Pipes',
      registry: pipes.pipes,
      toggle: true,
    },
    {
      path: 'alert-channels',
      idKind: 'alert_channel',
      entity: 'AlertChannel',
      label: 'alert channel',
      tag: 'Alerts',
      registry: pipes.alerts.channels,
      toggle: true,
      // The webhook URL is a secret: never echoed in an error or a log line.
      async create(context, body) {
        if (typeof body.url === 'string') context.sensitive.push(body.url);
        return json(201, await pipes.alerts.channels.create(body as never, context.actor));
      },
      checkPatch(body, context) {
        if (typeof body.url === 'string') context.sensitive.push(body.url);
      },
    },
  ];

  const routes: Route[] = collections.flatMap((c) => collectionRoutes(c));

  routes.push(
    {
      method: 'PUT',
      path: `/api/secrets/${idParam}/value`,
      summary: 'Rotate a secret value (the next delivery uses it). The value is never returned.',
      tag: 'Secrets',
      access: 'write',
      body: { schema: secretValueBodySchema, required: true },
      responses: { 200: { description: 'The secret (metadata only).', schema: 'Secret' } },
      async handle(context) {
        const body = await context.body();
        if (typeof body.value === 'string') context.sensitive.push(body.value);
        const { value } = parseOrThrow(secretValueBodySchema, body, 'secret value');
        return json(200, await pipes.secrets.updateValue(context.params.id!, value, context.actor));
      },
    },
    {
      method: 'PUT',
      path: `/api/event-destinations/${idParam}/secrets`,
      summary: 'Replace the secrets bound to a destination.',
      tag: 'Event destinations',
      access: 'write',
      body: { schema: bindSecretsBodySchema, required: true },
      responses: { 200: { description: 'The destination.', schema: 'Destination' } },
      async handle(context) {
        const body = parseOrThrow(bindSecretsBodySchema, await context.body(), 'secret binding');
        // The schema took exactly one of the two spellings.
        const ids = body.secretIds ?? body.secret_ids ?? [];
        return json(200, await pipes.destinations.bindSecrets(context.params.id!, ids, context.actor));
      },
    },
    {
      method: 'GET',
      path: '/api/event-destination-templates',
      summary: 'The destination templates this server offers.',
      tag: 'Event destinations',
      access: 'read',
      responses: {
        200: {
          description: 'Template names and descriptions.',
          schema: z.object({ data: z.array(z.object({ name: z.string(), description: z.string() })) }),
        },
      },
      async handle() {
        return json(200, {
          data: options.templates.map((t) => ({ name: t.name, description: t.description })),
        });
      },
    },
    {
      method: 'GET',
      path: `/api/pipes/${idParam}/deliveries`,
      summary: "A pipe's delivery records, newest first.",
      tag: 'Deliveries',
      access: 'read',
      query: deliveriesQuerySchema,
      responses: { 200: { description: 'A page of delivery records.', schema: pageSchema(deliverySchema) } },
      async handle(context) {
        const query = context.query(deliveriesQuerySchema);
        return json(200, await pipes.deliveries.list(context.params.id!, query));
      },
    },
    {
      method: 'POST',
      path: `/api/pipes/${idParam}/replay`,
      summary: 'Re-queue failed or dead deliveries of a pipe (or preview them with dry_run).',
      tag: 'Deliveries',
      access: 'write',
      body: { schema: replayBodySchema },
      responses: {
        200: {
          description: 'What was re-queued.',
          schema: z.object({
            dry_run: z.boolean(),
            count: z.number().int(),
            ids: z.array(z.string()),
            preview: z.array(z.unknown()).optional(),
          }),
        },
      },
      async handle(context) {
        const body = parseOrThrow(replayBodySchema, await context.body(), 'replay options');
        return json(200, await pipes.deliveries.replay(context.params.id!, body, context.actor));
      },
    },
    {
      method: 'GET',
      path: `/api/event-deliveries/${idParam}`,
      summary: 'One delivery record with every attempt.',
      tag: 'Deliveries',
      access: 'read',
      responses: { 200: { description: 'The delivery record.', schema: 'Delivery' } },
      async handle(context) {
        return json(200, await pipes.deliveries.get(context.params.id!));
      },
    },
    {
      method: 'GET',
      path: '/api/stats',
      summary: 'Buffer depth: deliveries per destination, pipe and status; and the engine status.',
      tag: 'Deliveries',
      access: 'read',
      responses: {
        200: {
          description: 'Counts and engine status.',
          schema: z.object({
            deliveries: z.array(
              z.object({
                destination_id: z.string(),
                pipe_id: z.string(),
                status: z.string(),
                count: z.number().int(),
                oldest_created_at: z.string().nullable(),
              }),
            ),
            engine: z.object({ running: z.boolean(), roles: z.array(z.string()), owner: z.string() }).loose(),
          }),
        },
      },
      async handle() {
        return json(200, { deliveries: await pipes.deliveries.stats(), engine: pipes.status() });
      },
    },
    {
      method: 'POST',
      path: `/api/alert-channels/${idParam}/test`,
      summary: 'Send a sample alert to a channel now; answers what the channel answered.',
      tag: 'Alerts',
      access: 'write',
      responses: {
        200: {
          description: 'The outcome (a failed send is an answer, not an error).',
          schema: alertChannelDeliverySchema,
        },
      },
      async handle(context) {
        return json(200, await pipes.alerts.channels.test(context.params.id!, context.actor));
      },
    },
    {
      method: 'GET',
      path: '/api/audit',
      summary: 'The audit trail, newest first: who changed what, before and after, through which request.',
      tag: 'Audit',
      access: 'read',
      query: auditQueryParamsSchema,
      responses: { 200: { description: 'A page of audit entries.', schema: 'AuditEntryPage' } },
      async handle(context) {
        return json(200, await pipes.audit.list(context.query(auditQueryParamsSchema)));
      },
    },
    {
      method: 'GET',
      path: '/api/config/export',
      summary:
        'The configuration as one document (sources, event types, secret names, destinations, pipes, alert ' +
        'channels; never a secret value or a webhook URL). With `Accept: application/x-ndjson`, progress lines ' +
        '`{"progress": {...}}` come first and the document last, as `{"result": {...}}`.',
      tag: 'Config',
      access: 'read',
      responses: {
        200: {
          description: 'The configuration document (or, streamed, progress lines and then it).',
          schema: 'ConfigDocument',
          mediaTypes: { 'application/x-ndjson': 'ConfigExportLine' },
        },
      },
      async handle(context) {
        if (wantsProgress(context.request)) {
          return progressStream(options.logger, context.requestId, (onProgress) =>
            pipes.config.export({ onProgress }),
          );
        }
        return json(200, await pipes.config.export());
      },
    },
    {
      method: 'POST',
      path: '/api/config/import',
      summary:
        'Make this instance match a configuration document (matched by slug, name and key; idempotent). ' +
        'Answers the plan: each entity created, updated, unchanged or skipped, and the secrets that still ' +
        'need a value. `?dry_run=true` plans and checks without writing. With `Accept: application/x-ndjson`, ' +
        'progress lines come first and the answer last, as `{"result": {...}}` (or `{"error": {...}}`).',
      tag: 'Config',
      access: 'write',
      query: configImportQuerySchema,
      body: { schema: 'ConfigDocumentInput', required: true, large: true },
      responses: {
        200: {
          description: 'The plan, applied or not (or, streamed, progress lines and then it).',
          schema: 'ConfigImportResult',
          mediaTypes: { 'application/x-ndjson': 'ConfigImportLine' },
        },
      },
      async handle(context) {
        const { dry_run: dryRun } = context.query(configImportQuerySchema);
        const doc = await context.body();
        const run = (onProgress?: (p: ConfigProgress) => void) =>
          pipes.config.import(doc, { dryRun, context: context.actor, onProgress });
        if (wantsProgress(context.request)) {
          return progressStream(options.logger, context.requestId, run);
        }
        return json(200, await run());
      },
    },
    {
      method: 'POST',
      path: '/api/api-keys',
      summary:
        'Create an API key. The answer carries its token, once: it is not stored and cannot be shown again.',
      tag: 'API keys',
      access: 'write',
      body: { schema: 'ApiKeyInput', required: true },
      responses: { 201: { description: 'The key and its token.', schema: 'ApiKeyCreated' } },
      async handle(context) {
        return json(201, await pipes.apiKeys.create((await context.body()) as never, context.actor));
      },
    },
    {
      method: 'GET',
      path: '/api/api-keys',
      summary: 'List API keys (revoked ones included), oldest first. Never a token.',
      tag: 'API keys',
      access: 'read',
      query: apiKeyListQuery,
      responses: { 200: { description: 'A page of keys.', schema: 'ApiKeyPage' } },
      async handle(context) {
        return json(200, await pipes.apiKeys.list(context.query(apiKeyListQuery)));
      },
    },
    {
      method: 'GET',
      path: `/api/api-keys/${idParam}`,
      summary: 'Get an API key.',
      tag: 'API keys',
      access: 'read',
      responses: { 200: { description: 'The key.', schema: 'ApiKey' } },
      async handle(context) {
        return json(200, await pipes.apiKeys.get(context.params.id!));
      },
    },
    {
      method: 'DELETE',
      path: `/api/api-keys/${idParam}`,
      summary: 'Revoke an API key (every process refuses it from the next request); answers the revoked key.',
      tag: 'API keys',
      access: 'write',
      responses: { 200: { description: 'The key, with `revoked_at`.', schema: 'ApiKey' } },
      async handle(context) {
        return json(200, await pipes.apiKeys.revoke(context.params.id!, context.actor));
      },
    },
  );
  return routes;
}

/** True when the client asked for progress lines (`Accept: application/x-ndjson`). */
function wantsProgress(request: Request): boolean {
  return (request.headers.get('accept') ?? '').toLowerCase().includes('application/x-ndjson');
}

/**
 * A streamed answer for long operations: NDJSON lines `{"progress": {...}}` (at most every 100 ms,
 * and at each phase's start and end), then `{"result": ...}` or `{"error": {code, message}}`.
 * The status is 200 before the work is done, so a failure is reported in the last line.
 */
function progressStream(
  logger: Logger | undefined,
  requestId: string,
  run: (onProgress: (progress: ConfigProgress) => void) => Promise<unknown>,
): Response {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const emit = (line: unknown) => controller.enqueue(encoder.encode(`${JSON.stringify(line)}\n`));
      let last = { phase: '', at: 0 };
      const onProgress = (progress: ConfigProgress) => {
        const now = Date.now();
        const edge = progress.phase !== last.phase || progress.done === 0 || progress.done === progress.total;
        if (!edge && now - last.at < 100) return;
        last = { phase: progress.phase, at: now };
        emit({ progress });
      };
      try {
        emit({ result: await run(onProgress) });
      } catch (err) {
        const error = toPipesError(err);
        if (error.code === 'INTERNAL') {
          (logger ?? silentLogger).error('OpenPipes HTTP request failed', {
            request_id: requestId,
            code: error.code,
            error: error.message,
          });
          emit({
            error: {
              code: error.code,
              message: `internal error; the server log has it under request id ${requestId}`,
            },
          });
        } else {
          emit({ error: error.toJSON() });
        }
      }
      controller.close();
    },
  });
  return new Response(stream, {
    status: 200,
    headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' },
  });
}

function collectionRoutes(c: Collection): Route[] {
  const base = `/api/${c.path}`;
  const item = `${base}/${idParam}`;
  const listQuery = listQuerySchema(c.idKind);
  const routes: Route[] = [
    {
      method: 'POST',
      path: base,
      summary: `Create a ${c.label}.`,
      tag: c.tag,
      access: 'write',
      body: {
        schema: c.path === 'event-destinations' ? 'DestinationCreate' : `${c.entity}Input`,
        required: true,
      },
      responses: {
        201: {
          description: `The new ${c.label}.`,
          schema: c.path === 'event-destinations' ? 'DestinationCreated' : c.entity,
        },
      },
      async handle(context) {
        const body = await context.body();
        if (c.create) return c.create(context, body);
        return json(201, await c.registry.create(body as never, context.actor));
      },
    },
    {
      method: 'GET',
      path: base,
      summary: `List ${c.label}s, oldest first.`,
      tag: c.tag,
      access: 'read',
      query: listQuery,
      responses: { 200: { description: `A page of ${c.label}s.`, schema: `${c.entity}Page` } },
      async handle(context) {
        return json(200, await c.registry.list(context.query(listQuery)));
      },
    },
    {
      method: 'GET',
      path: item,
      summary: `Get a ${c.label}.`,
      tag: c.tag,
      access: 'read',
      responses: { 200: { description: `The ${c.label}.`, schema: c.entity } },
      async handle(context) {
        return json(200, await c.registry.get(context.params.id!));
      },
    },
    {
      method: 'PATCH',
      path: item,
      summary: `Change fields of a ${c.label} (a new version).`,
      tag: c.tag,
      access: 'write',
      body: { schema: `${c.entity}Patch`, required: true },
      responses: { 200: { description: `The ${c.label}.`, schema: c.entity } },
      async handle(context) {
        const body = await context.body();
        c.checkPatch?.(body, context);
        return json(200, await c.registry.update(context.params.id!, body as never, context.actor));
      },
    },
    {
      method: 'DELETE',
      path: item,
      summary: `Delete a ${c.label} (its version history stays).`,
      tag: c.tag,
      access: 'write',
      responses: { 204: { description: 'Deleted.' } },
      async handle(context) {
        await c.registry.delete(context.params.id!, context.actor);
        return new Response(null, { status: 204 });
      },
    },
    {
      method: 'GET',
      path: `${item}/versions`,
      summary: `Every version of a ${c.label}, oldest first.`,
      tag: c.tag,
      access: 'read',
      responses: { 200: { description: 'Versions.', schema: `${c.entity}Versions` } },
      async handle(context) {
        return json(200, { data: await c.registry.versions(context.params.id!) });
      },
    },
    {
      method: 'POST',
      path: `${item}/revert`,
      summary: `Make an old version of a ${c.label} current again (as a new version).`,
      tag: c.tag,
      access: 'write',
      body: { schema: revertBodySchema, required: true },
      responses: { 200: { description: `The ${c.label}.`, schema: c.entity } },
      async handle(context) {
        const { version } = parseOrThrow(revertBodySchema, await context.body(), 'revert');
        return json(200, await c.registry.revert(context.params.id!, version, context.actor));
      },
    },
  ];
  const toggle = c.registry.toggle?.bind(c.registry);
  if (c.toggle && toggle) {
    routes.push({
      method: 'PUT',
      path: `${item}/toggle`,
      summary: `Flip a ${c.label} on or off, or set it with {"enabled": true|false}; answers the new state.`,
      tag: c.tag,
      access: 'write',
      body: { schema: toggleBodySchema },
      responses: { 200: { description: `The ${c.label}, with its new \`enabled\`.`, schema: c.entity } },
      async handle(context) {
        const { enabled } = parseOrThrow(toggleBodySchema, await context.body(), 'toggle');
        return json(200, await toggle(context.params.id!, enabled, context.actor));
      },
    });
  }
  return routes;
}

async function createFromTemplate(
  pipes: Pipes,
  templates: DestinationTemplate[],
  context: RouteContext,
  body: Record<string, unknown>,
): Promise<Response> {
  const parsed = parseOrThrow(templateDestinationBodySchema, body, 'destination from a template');
  const template = templates.find((t) => t.name === parsed.template);
  if (!template) {
    const known = templates.map((t) => t.name).join(', ') || 'none are configured';
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: `template: no template named "${parsed.template}" (known: ${known})`,
      details: { issues: [{ path: 'template', message: `unknown template (known: ${known})` }] },
    });
  }
  const definition = template.create(parsed.settings);
  const { template: _name, settings: _settings, ...overrides } = parsed;
  const destination = await pipes.destinations.create(
    { ...definition.destination, ...overrides } as never,
    context.actor,
  );
  return json(201, {
    ...destination,
    default_transform: definition.transform,
    required_secrets: definition.requiredSecrets,
  });
}
