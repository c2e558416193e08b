/**
 * `/api/sources/:id/write-key(s)`: a source's write keys for Segment-spec clients (issue 18). A key
 * is shown once, at creation; lists show its prefix; revoking names the id or the prefix.
 */
import { type Pipes, writeKeySchema } from '@openpipes/core';
import { z } from 'zod';
import { responseComponent } from '../components.js';
import { defineRoute, type Route, reply } from '../route.js';

const writeKey = responseComponent('WriteKey', writeKeySchema);
const writeKeyCreated = responseComponent(
  'WriteKeyCreated',
  writeKeySchema.extend({
    write_key: z
      .string()
      .describe(
        'The write key (HTTP Basic username, or `writeKey` in a Segment-spec body). Shown this once: only its SHA-256 digest is stored.',
      ),
  }),
);
const writeKeyList = responseComponent('WriteKeyList', z.object({ data: z.array(writeKey) }));

export function writeKeyRoutes(pipes: Pipes): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/sources/{id}/write-key',
      summary:
        'Create one more write key for a source (its other keys keep working). The answer carries the key, once: it is not stored and cannot be shown again.',
      tag: 'Sources',
      access: 'write',
      responses: { 201: { description: 'The key and its record.', schema: writeKeyCreated } },
      async handle({ params, actor }) {
        return reply(201, await pipes.writeKeys.create(params.id, actor));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/sources/{id}/write-keys',
      summary: "A source's write keys, revoked ones included, oldest first: prefixes only, never a key.",
      tag: 'Sources',
      access: 'read',
      responses: { 200: { description: 'The keys.', schema: writeKeyList } },
      async handle({ params }) {
        return reply(200, { data: await pipes.writeKeys.list(params.id) });
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/sources/{id}/write-keys/{key}',
      summary:
        "Revoke one of the source's write keys, named by its id (`wrk_…`) or its prefix (`opw_` and 8 characters); answers the revoked key. Idempotent.",
      tag: 'Sources',
      access: 'write',
      responses: { 200: { description: 'The key, with `revoked_at`.', schema: writeKey } },
      errors: [409],
      async handle({ params, actor }) {
        return reply(200, await pipes.writeKeys.revoke(params.id, params.key, actor));
      },
    }),
  ];
}
