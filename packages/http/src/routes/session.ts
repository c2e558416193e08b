/** `GET /api/session`: who the bearer key is and what it may do (the console hides write controls for `read`). */
import { z } from 'zod';
import { defineRoute, type Route, reply } from '../route.js';

const sessionSchema = z.object({
  actor: z.string().describe("The API key's name (the actor recorded in the audit trail)."),
  scope: z
    .enum(['read', 'write', 'privacy'])
    .describe('`read`: GET only; `write`: everything but personal data; `privacy`: everything.'),
});

export function sessionRoutes(): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/session',
      summary: "The calling API key's name and scope.",
      tag: 'Meta',
      access: 'read',
      responses: { 200: { description: 'The key.', schema: sessionSchema } },
      async handle({ principal }) {
        return reply(200, { actor: principal!.actor, scope: principal!.scope });
      },
    }),
  ];
}
