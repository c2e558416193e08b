/**
 * `openpipes audit`: the audit trail, newest first, filtered by entity, actor and time.
 */
import type { AuditEntry, Page } from '@openpipes/core';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { usage } from '../errors.js';
import { printList } from '../io.js';

interface AuditOptions {
  entity?: string;
  entityKind?: string;
  entityId?: string;
  actor?: string;
  since?: string;
  until?: string;
  limit?: string;
  json?: boolean;
}

/** An id has a prefix and an underscore (`pip_01J...`); a kind is a word (`pipe`, `alert_channel`). */
const looksLikeId = (value: string) => /^[a-z]+_[0-9A-Z]{10,}$/.test(value);

export function registerAudit(program: Command, ctx: CommandContext): void {
  program
    .command('audit')
    .summary('show the audit trail: who changed what, when')
    .description('The audit trail, newest first: actor, action, entity, and the request that did it.')
    .option('--entity <kind-or-id>', 'an entity kind (pipe, destination, secret...) or one entity id')
    .option(
      '--entity-kind <kind>',
      'only this kind: source, event_type, secret, destination, pipe, alert_channel, api_key',
    )
    .option('--entity-id <id>', 'only this entity')
    .option('--actor <name>', 'only changes by this API key (its name)')
    .option('--since <time>', 'at or after this ISO 8601 time')
    .option('--until <time>', 'before this ISO 8601 time')
    .option('--limit <n>', 'most entries (1..1000)', '50')
    .option('--json', 'print JSON (the page, with next_cursor)')
    .action(async (options: AuditOptions) => {
      const query: Record<string, string | undefined> = {
        entity_kind: options.entityKind,
        entity_id: options.entityId,
        actor: options.actor,
        since: options.since,
        until: options.until,
        limit: options.limit,
      };
      if (options.entity) {
        if (looksLikeId(options.entity)) query.entity_id = options.entity;
        else query.entity_kind = options.entity.replace(/-/g, '_');
      }
      if (options.limit !== undefined && !/^\d+$/.test(options.limit)) throw usage('--limit is a number');
      const { body } = await ctx.client().request<Page<AuditEntry>>('GET', '/api/audit', { query });
      printList(ctx.io, options.json, body, ['TIME', 'ACTOR', 'ACTION', 'ENTITY', 'REQUEST'], () =>
        body.data.map((e) => [
          e.created_at,
          e.actor,
          e.action,
          `${e.entity_kind} ${e.entity_id}`,
          e.request_id,
        ]),
      );
    });
}
