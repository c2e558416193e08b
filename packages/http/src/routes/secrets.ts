/** `/api/secrets`: values `send()` reads; never returned, never logged. */
import { type Pipes, PipesError, parseOrThrow } from '@openpipes/core';
import { json, type Route } from '../route.js';
import { secretValueBodySchema } from '../schemas.js';
import { collectionRoutes, idParam } from './collections.js';

export function secretRoutes(pipes: Pipes): Route[] {
  return [
    ...collectionRoutes({
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
    }),
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
  ];
}
