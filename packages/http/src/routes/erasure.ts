/**
 * A data subject's rights over HTTP (docs/erasure.md): `POST /api/erasure` erases a person found by
 * any identifier (in the body, so a raw email never sits in a URL or an access log; a write key,
 * as it destroys data), `GET /api/profiles/{id}/export` answers everything stored about a profile's
 * person (a read key: the same events and records a read key can already list).
 */
import type { Pipes } from '@openpipes/core';
import { profileSearchSchema } from '@openpipes/core/identity';
import { z } from 'zod';
import { responseComponent } from '../components.js';
import { defineRoute, type Route, reply } from '../route.js';
import { delivery } from './deliveries.js';
import { profileSchema } from './profiles.js';
import { storedEvent } from './sources.js';

const count = (what: string) => z.number().int().nonnegative().describe(what);

const erasureResult = responseComponent(
  'ErasureResult',
  z.object({
    profiles: count('Profiles erased, with the profiles merged into them.'),
    profile_ids: z.array(z.string()).describe('Their ids (also in the audit entry).'),
    identifiers: count('Stored identifiers deleted.'),
    events: count('Events deleted.'),
    deliveries: count(
      'Delivery records of those events, kept as tombstones (`erased_at` set, payloads gone).',
    ),
    cancelled: count(
      'Of those, deliveries that had not left yet: now `filtered` with `filter_reason` `erased`.',
    ),
    attempts: count('Attempts whose request, response, error and logs were erased.'),
    rejections: count('Rejection-log entries that quoted one of the identifiers, deleted.'),
    state: count('Alert and breaker state documents scrubbed of the identifiers.'),
    compacted: z
      .boolean()
      .describe(
        'Whether the store rewrote what held the erased bytes (SQLite VACUUM and WAL truncation, PostgreSQL VACUUM); false: call again later to finish.',
      ),
  }),
);

const personExport = responseComponent(
  'PersonExport',
  z.object({
    profile: profileSchema,
    identifiers: z
      .array(
        z.object({
          kind: z.string(),
          key: z.string().describe('The value, or the SHA-256 digest of a personal identifier.'),
          value: z.unknown(),
          first_seen_at: z.string(),
          last_seen_at: z.string(),
        }),
      )
      .describe('The identifiers exactly as stored.'),
    events: z.array(storedEvent).describe('The events tied to the person, oldest first.'),
    deliveries: z.array(delivery).describe('Their delivery records, with every attempt.'),
    truncated: z.boolean().describe('True when there were more than 10,000 events: the rest are left out.'),
  }),
);

export function erasureRoutes(pipes: Pipes): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/erasure',
      summary:
        'Erase a person: their profiles, events, delivery payloads and attempt bodies, and stop what has not left yet.',
      tag: 'Profiles',
      access: 'privacy',
      body: { schema: profileSearchSchema, label: 'erasure', required: true },
      responses: {
        200: { description: 'What was erased (counts; nothing found answers zeros).', schema: erasureResult },
      },
      async handle({ body, actor }) {
        return reply(200, await pipes.profiles.erase(body, actor));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/profiles/{id}/export',
      summary:
        "A data subject's data as JSON: the profile, its identifiers as stored, events and deliveries.",
      tag: 'Profiles',
      access: 'privacy',
      responses: { 200: { description: 'Everything stored about the person.', schema: personExport } },
      async handle({ params }) {
        return reply(200, await pipes.profiles.export(params.id));
      },
    }),
  ];
}
