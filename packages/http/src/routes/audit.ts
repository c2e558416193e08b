/** `/api/audit`: who changed what, before and after, through which request. */
import type { Pipes } from '@openpipes/core';
import { json, type Route } from '../route.js';
import { auditQueryParamsSchema } from '../schemas.js';

export function auditRoutes(pipes: Pipes): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/audit',
      summary: 'The audit trail, newest first: who changed what, before and after, through which request.',
      tag: 'Audit',
      access: 'read',
      query: auditQueryParamsSchema,
      responses: { 200: { description: 'A page of audit entries.', schema: 'AuditEntryPage' } },
      async handle(context) {
        return json(200, await pipes.audit.list(context.query(auditQueryParamsSchema)));
      },
    },
  ];
}
