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

export function destinationRoutes(pipes: Pipes, templates: DestinationTemplate[]): Route[] {
  return [
    defineRoute({
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
        const destination = await pipes.destinations.create(
          { ...definition.destination, ...overrides },
          actor,
        );
        return reply(201, {
          ...destination,
          default_transform: definition.transform,
          required_secrets: definition.requiredSecrets,
        });
      },
    }),
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
    defineRoute({
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
    }),
    defineRoute({
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
        return reply(200, { data: templates.map((t) => ({ name: t.name, description: t.description })) });
      },
    }),
  ];
}
