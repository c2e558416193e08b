/**
 * `openpipes sources events|rejections`: a source's recent accepted events and the events collect
 * refused (with the errors it answered), newest first, on top of the same admin API
 * `openpipes api` calls.
 */
import type { Page, StoredEvent, StoredRejection } from '@openpipes/core';
import type { Command } from 'commander';
import { type CommandContext, resolveId } from '../context.js';
import { usage } from '../errors.js';
import { printJson, table } from '../io.js';

interface PageOptions {
  limit: string;
  cursor?: string;
  json?: boolean;
}

/** Cuts a cell so one long event or message cannot flood the terminal. */
const cell = (text: string, max = 100) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function registerSources(program: Command, ctx: CommandContext): void {
  const sources = program.command('sources').summary("a source's recent events and rejections");

  const fetchPage = async <T>(source: string, what: 'events' | 'rejections', options: PageOptions) => {
    if (!/^\d+$/.test(options.limit)) throw usage('--limit is a number (1..1000)');
    const id = await resolveId(ctx, 'sources', source);
    const { body } = await ctx.client().request<Page<T>>('GET', `/api/sources/${id}/${what}`, {
      query: { limit: options.limit, cursor: options.cursor },
    });
    return body;
  };

  sources
    .command('events')
    .description("A source's recent accepted events, newest first.")
    .argument('<source>', 'source id (src_...) or slug')
    .option('--limit <n>', 'most events (1..1000)', '20')
    .option('--cursor <id>', 'next_cursor of the previous page')
    .option('--json', 'print JSON (the page, with next_cursor)')
    .action(async (source: string, options: PageOptions) => {
      const body = await fetchPage<StoredEvent>(source, 'events', options);
      if (options.json) {
        printJson(ctx.io, body);
        return;
      }
      table(
        ctx.io,
        ['ID', 'RECEIVED', 'TYPE', 'EVENT ID', 'PAYLOAD'],
        body.data.map((e) => [
          e.id,
          e.received_at,
          e.event_type,
          e.event_id,
          cell(JSON.stringify(e.event_payload)),
        ]),
      );
    });

  sources
    .command('rejections')
    .description(
      'Events collect refused for a source (validation failed, unknown event type, not JSON...), newest first, with their errors.',
    )
    .argument('<source>', 'source id (src_...) or slug')
    .option('--limit <n>', 'most rejections (1..1000)', '20')
    .option('--cursor <id>', 'next_cursor of the previous page')
    .option('--json', 'print JSON (the page, with next_cursor): every issue and the event as sent')
    .action(async (source: string, options: PageOptions) => {
      const body = await fetchPage<StoredRejection>(source, 'rejections', options);
      if (options.json) {
        printJson(ctx.io, body);
        return;
      }
      table(
        ctx.io,
        ['ID', 'RECEIVED', 'ERROR', 'EVENT'],
        body.data.map((r) => [
          r.id,
          r.received_at,
          cell(`${r.error.code}: ${r.error.message}`),
          cell(r.event, 120) + (r.truncated ? ' (cut)' : ''),
        ]),
      );
    });
}
