/** `/api/api-keys`: keys of the admin API, stored hashed; a token is shown once, at creation. */
import { apiKeyInputSchema, apiKeySchema, type Pipes } from '@openpipes/core';
import { z } from 'zod';
import { pageSchema, requestComponent, responseComponent } from '../components.js';
import { defineRoute, type Route, reply } from '../route.js';
import { listQuerySchema } from '../schemas.js';

const apiKey = responseComponent('ApiKey', apiKeySchema);
const apiKeyInput = requestComponent('ApiKeyInput', apiKeyInputSchema);
const apiKeyCreated = responseComponent(
  'ApiKeyCreated',
  apiKeySchema.extend({ token: z.string().describe('The bearer token. Shown this once.') }),
);
const apiKeyPage = responseComponent('ApiKeyPage', pageSchema(apiKey));
const apiKeyListQuery = listQuerySchema('api_key');

export function apiKeyRoutes(pipes: Pipes): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/api-keys',
      summary:
        'Create an API key. The answer carries its token, once: it is not stored and cannot be shown again.',
      tag: 'API keys',
      access: 'write',
      body: { schema: apiKeyInput, label: 'API key', required: true },
      responses: { 201: { description: 'The key and its token.', schema: apiKeyCreated } },
      async handle({ body, actor }) {
        return reply(201, await pipes.apiKeys.create(body, actor));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/api-keys',
      summary: 'List API keys (revoked ones included), oldest first. Never a token.',
      tag: 'API keys',
      access: 'read',
      query: apiKeyListQuery,
      responses: { 200: { description: 'A page of keys.', schema: apiKeyPage } },
      async handle({ query }) {
        return reply(200, await pipes.apiKeys.list(query));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/api-keys/{id}',
      summary: 'Get an API key.',
      tag: 'API keys',
      access: 'read',
      responses: { 200: { description: 'The key.', schema: apiKey } },
      async handle({ params }) {
        return reply(200, await pipes.apiKeys.get(params.id));
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/api-keys/{id}',
      summary: 'Revoke an API key (every process refuses it from the next request); answers the revoked key.',
      tag: 'API keys',
      access: 'write',
      responses: { 200: { description: 'The key, with `revoked_at`.', schema: apiKey } },
      async handle({ params, actor }) {
        return reply(200, await pipes.apiKeys.revoke(params.id, actor));
      },
    }),
  ];
}
