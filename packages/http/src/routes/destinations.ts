/**
 * `/api/event-destinations`: where a pipe delivers, created as they are or from a template; the
 * secrets bound to them; the templates this server offers.
 */
import { type DestinationTemplate, type Pipes, PipesError, parseOrThrow } from '@openpipes/core';
import { z } from 'zod';
import { json, type Route, type RouteContext } from '../route.js';
import { bindSecretsBodySchema, templateDestinationBodySchema } from '../schemas.js';
import { collectionRoutes, idParam } from './collections.js';

export function destinationRoutes(pipes: Pipes, templates: DestinationTemplate[]): Route[] {
  return [
    ...collectionRoutes({
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
        return createFromTemplate(pipes, templates, context, body);
      },
    }),
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
          data: templates.map((t) => ({ name: t.name, description: t.description })),
        });
      },
    },
  ];
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
