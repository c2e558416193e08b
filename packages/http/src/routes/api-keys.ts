/** `/api/api-keys`: keys of the admin API, stored hashed; a token is shown once, at creation. */
import type { Pipes } from '@openpipes/core';
import { json, type Route } from '../route.js';
import { listQuerySchema } from '../schemas.js';
import { idParam } from './collections.js';

const apiKeyListQuery = listQuerySchema('api_key');

export function apiKeyRoutes(pipes: Pipes): Route[] {
  return [
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
  ];
}
