/** `/api/audit`: who changed what, before and after, through which request. */
import { auditEntrySchema, type Pipes } from '@openpipes/core';
import { pageSchema, responseComponent } from '../components.js';
import { defineRoute, type Route, reply } from '../route.js';
import { auditQueryParamsSchema } from '../schemas.js';

const auditPage = responseComponent(
  'AuditEntryPage',
  pageSchema(responseComponent('AuditEntry', auditEntrySchema)),
);

export function auditRoutes(pipes: Pipes): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/audit',
      summary: 'The audit trail, newest first: who changed what, before and after, through which request.',
      tag: 'Audit',
      access: 'read',
      query: auditQueryParamsSchema,
      responses: { 200: { description: 'A page of audit entries.', schema: auditPage } },
      async handle({ query }) {
        return reply(200, await pipes.audit.list(query));
      },
    }),
  ];
}
