/** `/api/secrets`: values `send()` reads; never returned, never logged. */
import { type Pipes, secretInputSchema, secretKeySchema, secretSchema } from '@openpipes/core';
import { z } from 'zod';
import { defineRoute, type Route, reply } from '../route.js';
import { secretValueBodySchema } from '../schemas.js';
import { collectionRoutes, collectionSchemas } from './collections.js';

export const secretSchemas = collectionSchemas('Secret', {
  entity: secretSchema,
  input: secretInputSchema,
  patch: z.strictObject({
    key: secretKeySchema.optional(),
    description: z.string().max(2000).optional(),
    // Named so that the refusal says where a value is changed.
    value: z
      .never({ error: 'a secret value is rotated with PUT /api/secrets/{id}/value, not PATCH' })
      .optional()
      .describe('Not here: a secret value is rotated with `PUT /api/secrets/{id}/value`.'),
  }),
});

export function secretRoutes(pipes: Pipes): Route[] {
  return [
    ...collectionRoutes({
      path: 'secrets',
      idKind: 'secret',
      label: 'secret',
      tag: 'Secrets',
      schemas: secretSchemas,
      registry: pipes.secrets,
      sensitive: ['value'],
    }),
    defineRoute({
      method: 'PUT',
      path: '/api/secrets/{id}/value',
      summary: 'Rotate a secret value (the next delivery uses it). The value is never returned.',
      tag: 'Secrets',
      access: 'write',
      body: { schema: secretValueBodySchema, label: 'secret value', required: true, sensitive: ['value'] },
      responses: { 200: { description: 'The secret (metadata only).', schema: secretSchemas.entity } },
      async handle({ params, body, actor }) {
        return reply(200, await pipes.secrets.updateValue(params.id, body.value, actor));
      },
    }),
  ];
}
