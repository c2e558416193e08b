/**
 * `openpipes deliveries list|get|last-errors` and `openpipes replay`: delivery records and re-queuing, on top of
 * the same admin API `openpipes api` calls.
 */
import type { Delivery, LastErrors, Page } from '@openpipes/core';
import type { Command } from 'commander';
import { type CommandContext, resolveId } from '../context.js';
import { usage } from '../errors.js';
import { errorText, printJson, printList, println } from '../io.js';

const collect = (value: string, previous: string[] = []) => [
  ...previous,
  ...value.split(',').filter(Boolean),
];

/** A whole number option, or undefined when not given; a usage error otherwise. */
function optionalNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw usage(`${flag} is a number`);
  return Number(value);
}

export function registerDeliveries(program: Command, ctx: CommandContext): void {
  const deliveries = program.command('deliveries').summary("a pipe's delivery records");
  registerList(deliveries, ctx);
  registerLastErrors(deliveries, ctx);
  registerGet(deliveries, ctx);
  registerReplay(program, ctx);
}

/** `deliveries list`: a pipe's records, newest first. */
function registerList(deliveries: Command, ctx: CommandContext): void {
  deliveries
    .command('list')
    .description("A pipe's delivery records, newest first.")
    .argument('<pipe>', 'pipe id (pip_...) or name')
    .option(
      '--status <statuses>',
      'pending, sending, delivered, filtered, retrying, failed, dead (comma-separated)',
    )
    .option('--event-id <id>', "only this sender's event id")
    .option('--filter-reason <reason>', 'only filtered records with this reason (consent, ...)')
    .option('--since <time>', 'created at or after (ISO 8601)')
    .option('--until <time>', 'created before (ISO 8601)')
    .option('--limit <n>', 'most records (1..1000)', '50')
    .option('--json', 'print JSON (the page, with next_cursor)')
    .action(
      async (
        pipe: string,
        options: {
          status?: string;
          eventId?: string;
          filterReason?: string;
          since?: string;
          until?: string;
          limit: string;
          json?: boolean;
        },
      ) => {
        const id = await resolveId(ctx, 'pipes', pipe);
        const { body } = await ctx.client().request<Page<Delivery>>('GET', `/api/pipes/${id}/deliveries`, {
          query: {
            status: options.status,
            event_id: options.eventId,
            filter_reason: options.filterReason,
            since: options.since,
            until: options.until,
            limit: options.limit,
          },
        });
        printList(ctx.io, options.json, body, ['ID', 'EVENT', 'STATUS', 'ATTEMPTS', 'CREATED', 'ERROR'], () =>
          body.data.map((d) => [
            d.id,
            d.event_id,
            d.status,
            d.attempt_count,
            d.created_at,
            d.error
              ? errorText(d.error).slice(0, 120)
              : d.filter_reason
                ? `filtered: ${d.filter_reason}`
                : '',
          ]),
        );
      },
    );
}

/** `deliveries last-errors`: each pipe's (or destination's) last error. */
function registerLastErrors(deliveries: Command, ctx: CommandContext): void {
  deliveries
    .command('last-errors')
    .description(
      "Each pipe's last error: its newest failed, dead or retrying delivery, with the error and when it happened (GET /api/last-errors).",
    )
    .option('--by-destination', 'one row per destination: the newest error among the pipes that share it')
    .option('--json', 'print JSON (with the pipe and destination ids)')
    .action(async (options: { byDestination?: boolean; json?: boolean }) => {
      const { body } = await ctx.client().request<LastErrors>('GET', '/api/last-errors');
      const rows = options.byDestination ? newestPerDestination(body.data) : body.data;
      printList(
        ctx.io,
        options.json,
        { data: rows },
        ['PIPE', 'DESTINATION', 'STATUS', 'DELIVERY', 'AT', 'ERROR'],
        () =>
          rows.map((row) => [
            row.pipe,
            row.destination,
            row.status,
            row.delivery_id,
            row.updated_at,
            row.error ? errorText(row.error).slice(0, 120) : '',
          ]),
      );
    });
}

/** `deliveries get`: one record with every attempt. */
function registerGet(deliveries: Command, ctx: CommandContext): void {
  deliveries
    .command('get')
    .description('One delivery record with every attempt, as JSON.')
    .argument('<id>', 'delivery id (evd_...)')
    .action(async (id: string) => {
      const { body } = await ctx.client().request<Delivery>('GET', `/api/event-deliveries/${id}`);
      printJson(ctx.io, body);
    });
}

/** `replay`: re-queue (or preview) deliveries of a pipe. */
function registerReplay(program: Command, ctx: CommandContext): void {
  program
    .command('replay')
    .summary('re-queue failed or dead deliveries of a pipe')
    .description(
      'Re-queue deliveries of a pipe (default: failed and dead ones). --dry-run shows what the transform would send.',
    )
    .argument('<pipe>', 'pipe id (pip_...) or name')
    .option('--dry-run', 'run the transform and show the output; send and change nothing')
    .option(
      '--status <status>',
      'statuses to replay (repeat or comma-separate); default failed,dead',
      collect,
    )
    .option('--id <id>', 'only these deliveries (repeat or comma-separate)', collect)
    .option('--since <time>', 'created at or after (ISO 8601)')
    .option('--until <time>', 'created before (ISO 8601)')
    .option('--pipe-version <n>', 'run this version of the pipe instead of the current one')
    .option('--limit <n>', 'most deliveries (default 1000)')
    .option('--json', 'print JSON')
    .action(
      async (
        pipe: string,
        options: {
          dryRun?: boolean;
          status?: string[];
          id?: string[];
          since?: string;
          until?: string;
          pipeVersion?: string;
          limit?: string;
          json?: boolean;
        },
      ) => {
        const id = await resolveId(ctx, 'pipes', pipe);
        const { body } = await ctx
          .client()
          .request<{ dry_run: boolean; count: number; ids: string[]; preview?: unknown[] }>(
            'POST',
            `/api/pipes/${id}/replay`,
            {
              body: {
                dry_run: options.dryRun,
                statuses: options.status,
                ids: options.id,
                since: options.since,
                until: options.until,
                pipe_version: optionalNumber(options.pipeVersion, '--pipe-version'),
                limit: optionalNumber(options.limit, '--limit'),
              },
            },
          );
        if (options.json) {
          printJson(ctx.io, body);
          return;
        }
        if (body.dry_run) {
          println(
            ctx.io,
            `Dry run: ${body.count} deliveries would be replayed; nothing was sent or changed.`,
          );
          if (body.preview?.length) printJson(ctx.io, body.preview);
        } else {
          println(ctx.io, `Re-queued ${body.count} deliveries.`);
        }
      },
    );
}

/**
 * Each destination's newest error among the pipes that share it: the row updated last (a delivery
 * created earlier may have failed again more recently), in the order the rows came.
 */
function newestPerDestination(rows: LastErrors['data']): LastErrors['data'] {
  const newest = new Map<string, LastErrors['data'][number]>();
  for (const row of rows) {
    const seen = newest.get(row.destination_id);
    if (!seen || row.updated_at > seen.updated_at) newest.set(row.destination_id, row);
  }
  const kept = new Set(newest.values());
  return rows.filter((row) => kept.has(row));
}
