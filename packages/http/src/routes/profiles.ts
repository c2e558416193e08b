/**
 * `/api/profiles`: identity profiles (docs/identifiers.md). Search takes the identifiers in a POST
 * body, so a raw email never sits in a URL or an access log; answers show personal identifiers as
 * the digests the store keeps, never raw.
 */
import type { Pipes } from '@openpipes/core';
import { profileSearchSchema } from '@openpipes/core/identity';
import { z } from 'zod';
import { responseComponent } from '../components.js';
import { defineRoute, type Route, reply } from '../route.js';

export const profileSchema = responseComponent(
  'Profile',
  z.object({
    id: z.string(),
    created_at: z.string(),
    last_seen_at: z.string(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    identifiers: z
      .array(
        z.object({
          kind: z.string(),
          value: z
            .union([
              z.string(),
              z.partialRecord(
                z.enum(['sha256', 'sha256_google', 'sha256_reddit', 'sha256_digits']),
                z.string(),
              ),
            ])
            .describe(
              'The value, or for email, phone and external_id the SHA-256 digests per normalisation.',
            ),
          first_seen_at: z.string(),
          last_seen_at: z.string(),
        }),
      )
      .describe('Newest first.'),
    merged: z
      .array(z.object({ id: z.string(), merged_at: z.string() }))
      .describe('Profiles merged into this one.'),
  }),
);

export function profileRoutes(pipes: Pipes): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/profiles/search',
      summary: 'Find the profiles holding any of these identifiers (raw values or SHA-256 digests).',
      tag: 'Profiles',
      access: 'privacy',
      body: { schema: profileSearchSchema, label: 'profile search', required: true },
      responses: {
        200: {
          description: 'The profiles found (empty when none).',
          schema: z.object({ data: z.array(profileSchema) }),
        },
      },
      async handle({ body }) {
        return reply(200, { data: await pipes.profiles.search(body) });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/profiles/{id}',
      summary: 'One profile: identifiers as stored, last IP and user agent, the profiles merged into it.',
      tag: 'Profiles',
      access: 'privacy',
      responses: {
        200: { description: 'The profile (a merged id answers its survivor).', schema: profileSchema },
      },
      async handle({ params }) {
        return reply(200, await pipes.profiles.get(params.id));
      },
    }),
  ];
}
