/**
 * `openpipes reconcile <event type>`: for an event type and a period, the events collected and, per
 * destination, how many were delivered, filtered (by reason), failed or are still pending
 * (`GET /api/reconciliation`).
 */
import type { Reconciliation } from '@openpipes/core';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { printJson, println, table } from '../io.js';

export function registerReconciliation(program: Command, ctx: CommandContext): void {
  program
    .command('reconcile')
    .summary('did every event of a type reach every destination?')
    .description(
      'For an event type and a period (default the last 24 hours): events collected, and per destination delivered, filtered (by reason), failed, pending and missing.',
    )
    .argument('<event-type>', 'the event type (purchase)')
    .option('--from <time>', 'received at or after (ISO 8601)')
    .option('--to <time>', 'received before (ISO 8601)')
    .option('--json', 'print JSON')
    .action(async (eventType: string, options: { from?: string; to?: string; json?: boolean }) => {
      const { body } = await ctx.client().request<Reconciliation>('GET', '/api/reconciliation', {
        query: { event_type: eventType, from: options.from, to: options.to },
      });
      if (options.json) {
        printJson(ctx.io, body);
        return;
      }
      println(
        ctx.io,
        `${body.collected} ${body.event_type} events collected from ${body.from} to ${body.to}`,
      );
      table(
        ctx.io,
        ['DESTINATION', 'EXPECTED', 'DELIVERED', 'FILTERED', 'FAILED', 'PENDING', 'MISSING'],
        body.destinations.map((d) => [
          d.name ?? d.destination_id,
          d.expected,
          d.delivered,
          d.filtered === 0
            ? 0
            : `${d.filtered} (${Object.entries(d.filtered_by_reason)
                .map(([reason, n]) => `${reason} ${n}`)
                .join(', ')})`,
          d.failed,
          d.pending,
          d.missing,
        ]),
      );
    });
}
