/**
 * `/api/event-destinations`: where a pipe delivers, created as they are or from a template; the
 * secrets bound to them; the templates this server offers.
 */
import {
  type DestinationTemplate,
  destinationInputSchema,
  destinationSchema,
  type Pipes,
  PipesError,
  parseOrThrow,
  sendTestInputSchema,
  sendTestResultSchema,
} from '@openpipes/core';
import { z } from 'zod';
import { requestComponent, responseComponent } from '../components.js';
import { defineRoute, type Route, reply } from '../route.js';
import { bindSecretsBodySchema, templateDestinationBodySchema } from '../schemas.js';
import { collectionRoutes, collectionSchemas } from './collections.js';

export const destinationSchemas = collectionSchemas('Destination', {
  entity: destinationSchema,
  input: destinationInputSchema,
});

/** `POST /api/event-destinations` takes a destination, or a template's name and settings. */
const destinationCreateSchema = requestComponent(
  'DestinationCreate',
  z.xor([
    destinationSchemas.input,
    requestComponent('DestinationFromTemplate', templateDestinationBodySchema),
  ]),
);

/** `POST /api/event-destinations` from a template answers these too. */
const destinationCreatedSchema = responseComponent(
  'DestinationCreated',
  destinationSchema.extend({
    default_transform: z
      .string()
      .optional()
      .describe('From a template: a transform for the pipe, to start from.'),
    required_secrets: z
      .array(z.object({ key: z.string(), description: z.string() }))
      .optional()
      .describe('From a template: the secret keys its `send()` reads.'),
  }),
);

/** Create: a destination as given, or made by a template from its settings. */
function createRoute(pipes: Pipes, templates: DestinationTemplate[]): Route {
  return defineRoute({
    method: 'POST',
    path: '/api/event-destinations',
    summary: 'Create an event destination.',
    tag: 'Event destinations',
    access: 'write',
    body: {
      schema: destinationCreateSchema,
      label: 'destination',
      required: true,
      // A template's name is a string; a destination's own `template` field is an object.
      parse: (body) =>
        typeof body.template === 'string'
          ? parseOrThrow(templateDestinationBodySchema, body, 'destination from a template')
          : parseOrThrow(destinationInputSchema, body, 'destination'),
    },
    responses: { 201: { description: 'The new event destination.', schema: destinationCreatedSchema } },
    async handle({ body, actor }) {
      if (!('settings' in body)) return reply(201, await pipes.destinations.create(body, actor));
      const template = templates.find((t) => t.name === body.template);
      if (!template) {
        const known = templates.map((t) => t.name).join(', ') || 'none are configured';
        throw new PipesError({
          code: 'VALIDATION_FAILED',
          message: `template: no template named "${body.template}" (known: ${known})`,
          details: { issues: [{ path: 'template', message: `unknown template (known: ${known})` }] },
        });
      }
      const definition = template.create(body.settings);
      const { template: _name, settings: _settings, ...overrides } = body;
      const destination = await pipes.destinations.create({ ...definition.destination, ...overrides }, actor);
      return reply(201, {
        ...destination,
        default_transform: definition.transform,
        required_secrets: definition.requiredSecrets,
      });
    },
  });
}

/** The secrets bound to a destination. */
function bindSecretsRoute(pipes: Pipes): Route {
  return defineRoute({
    method: 'PUT',
    path: '/api/event-destinations/{id}/secrets',
    summary: 'Replace the secrets bound to a destination.',
    tag: 'Event destinations',
    access: 'write',
    body: { schema: bindSecretsBodySchema, label: 'secret binding', required: true },
    responses: { 200: { description: 'The destination.', schema: destinationSchemas.entity } },
    async handle({ params, body, actor }) {
      // The schema took exactly one of the two spellings.
      const ids = body.secretIds ?? body.secret_ids ?? [];
      return reply(200, await pipes.destinations.bindSecrets(params.id, ids, actor));
    },
  });
}

/** A template destination's settings: its send() made again from them. */
function settingsRoute(pipes: Pipes, templates: DestinationTemplate[]): Route {
  return defineRoute({
    method: 'PUT',
    path: '/api/event-destinations/{id}/settings',
    summary:
      "Change a template destination's settings: its template makes the send() again from them (a new version). 409 for a destination with its own code.",
    tag: 'Event destinations',
    access: 'write',
    body: {
      schema: z.strictObject({ settings: z.record(z.string(), z.unknown()) }),
      label: 'template settings',
      required: true,
    },
    responses: { 200: { description: 'The destination.', schema: destinationSchemas.entity } },
    async handle({ params, body, actor }) {
      const current = await pipes.destinations.get(params.id);
      const template = current.template
        ? templates.find((t) => t.name === current.template!.name)
        : undefined;
      if (!current.template || !template) {
        throw new PipesError({
          code: 'CONFLICT',
          message: current.template
            ? `destination "${current.name}": its template "${current.template.name}" is not offered by this server`
            : `destination "${current.name}" has its own send() code, not template settings; change its send`,
        });
      }
      // The destination keeps its name whatever the settings' default name says.
      const definition = template.create({ ...body.settings, name: current.name });
      const { send, max_batch_size, description, template: made, identifiers } = definition.destination;
      return reply(
        200,
        await pipes.destinations.update(
          params.id,
          {
            send,
            template: made,
            ...(max_batch_size !== undefined ? { max_batch_size } : {}),
            ...(description !== undefined ? { description } : {}),
            // Where the template's identifiers sit (match quality); a destination made before
            // templates declared them gets the declaration here.
            ...(identifiers !== undefined ? { identifiers } : {}),
          },
          actor,
        ),
      );
    },
  });
}

/** A destination's send() run outside delivery. */
function sendTestRoute(pipes: Pipes, templates: DestinationTemplate[]): Route {
  return defineRoute({
    method: 'POST',
    path: '/api/event-destinations/{id}/send-test',
    summary:
      "Run a destination's send() outside delivery: `dry` records every request and answers it with a synthetic 200 `{}` (no connection is opened); `test` sends for real in the platform test mode of its template (409 when it has none). Requests, value, errors and console lines are redacted.",
    tag: 'Event destinations',
    access: 'write',
    body: { schema: sendTestInputSchema, label: 'send test', required: true },
    responses: {
      200: {
        description: 'Every request send() made, with its (synthetic or real) answer.',
        schema: responseComponent('SendTestResult', sendTestResultSchema),
      },
    },
    async handle({ params, body }) {
      return reply(200, await pipes.sendTests.run(params.id, body, templates));
    },
  });
}

/** The templates this server offers. */
function templatesRoute(templates: DestinationTemplate[]): Route {
  return defineRoute({
    method: 'GET',
    path: '/api/event-destination-templates',
    summary: 'The destination templates this server offers.',
    tag: 'Event destinations',
    access: 'read',
    responses: {
      200: {
        description: 'Template names and descriptions, the JSON Schema of their settings, their test mode.',
        schema: z.object({
          data: z.array(
            z.object({
              name: z.string(),
              description: z.string(),
              settings_schema: z
                .record(z.string(), z.unknown())
                .nullable()
                .describe('JSON Schema (2020-12) of the settings, as a client writes them.'),
              test_mode: z
                .object({ setting: z.string(), needs_value: z.boolean(), description: z.string() })
                .nullable()
                .describe('How a test send (`send-test` mode `test`) runs; null: no test mode.'),
            }),
          ),
        }),
      },
    },
    async handle() {
      return reply(200, {
        data: templates.map((t) => ({
          name: t.name,
          description: t.description,
          settings_schema: t.settingsSchema ?? null,
          test_mode: t.testMode
            ? {
                setting: t.testMode.setting,
                needs_value: t.testMode.needsValue,
                description: t.testMode.description,
              }
            : null,
        })),
      });
    },
  });
}

export function destinationRoutes(pipes: Pipes, templates: DestinationTemplate[]): Route[] {
  return [
    createRoute(pipes, templates),
    ...collectionRoutes({
      path: 'event-destinations',
      idKind: 'destination',
      label: 'event destination',
      bodyLabel: 'destination',
      tag: 'Event destinations',
      schemas: destinationSchemas,
      registry: pipes.destinations,
      toggle: (id, enabled, actor) => pipes.destinations.toggle(id, enabled, actor),
      create: false,
    }),
    bindSecretsRoute(pipes),
    settingsRoute(pipes, templates),
    sendTestRoute(pipes, templates),
    templatesRoute(templates),
  ];
}
