/**
 * `openpipes sources events|rejections`: a source's recent accepted events and the events collect
 * refused (with the errors it answered), newest first; `openpipes sources write-key|write-keys|
 * revoke-write-key`: its write keys for Segment-spec clients. On top of the same admin API
 * `openpipes api` calls.
 */
import type { CreatedWriteKey, Page, StoredEvent, StoredRejection, WriteKey } from '@openpipes/core';
import type { Command } from 'commander';
import { type CommandContext, resolveId } from '../context.js';
import { usage } from '../errors.js';
import { errorText, note, printJson, printList, println } from '../io.js';

interface PageOptions {
  limit: string;
  cursor?: string;
  json?: boolean;
}

/** Cuts a cell so one long event or message cannot flood the terminal. */
const cell = (text: string, max = 100) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function registerSources(program: Command, ctx: CommandContext): void {
  const sources = program
    .command('sources')
    .summary("a source's recent events and rejections, and its write keys");

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
      printList(ctx.io, options.json, body, ['ID', 'RECEIVED', 'TYPE', 'EVENT ID', 'PAYLOAD'], () =>
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
      printList(ctx.io, options.json, body, ['ID', 'RECEIVED', 'ERROR', 'EVENT'], () =>
        body.data.map((r) => [
          r.id,
          r.received_at,
          cell(errorText(r.error)),
          cell(r.event, 120) + (r.truncated ? ' (cut)' : ''),
        ]),
      );
    });

  sources
    .command('write-key')
    .description(
      'Create one more write key for a source (for Segment-spec clients; its other keys keep working). The key is printed this once.',
    )
    .argument('<source>', 'source id (src_...) or slug')
    .option('--json', 'print the key and its record as JSON')
    .action(async (source: string, options: { json?: boolean }) => {
      const id = await resolveId(ctx, 'sources', source);
      const { body } = await ctx.client().request<CreatedWriteKey>('POST', `/api/sources/${id}/write-key`);
      if (options.json) {
        printJson(ctx.io, body);
        return;
      }
      note(ctx.io, `Created write key ${body.prefix}… (${body.id}) for source ${source}.`);
      note(ctx.io, 'It follows, shown this once (the server keeps only its digest):');
      println(ctx.io, body.write_key);
    });

  sources
    .command('write-keys')
    .description("A source's write keys, revoked ones included: prefixes only, never a key.")
    .argument('<source>', 'source id (src_...) or slug')
    .option('--json', 'print JSON')
    .action(async (source: string, options: { json?: boolean }) => {
      const id = await resolveId(ctx, 'sources', source);
      const { body } = await ctx
        .client()
        .request<{ data: WriteKey[] }>('GET', `/api/sources/${id}/write-keys`);
      printList(ctx.io, options.json, body, ['ID', 'PREFIX', 'CREATED', 'REVOKED'], () =>
        body.data.map((k) => [k.id, k.prefix, k.created_at, k.revoked_at]),
      );
    });

  sources
    .command('revoke-write-key')
    .description("Revoke one of a source's write keys: collect refuses it from the next request.")
    .argument('<source>', 'source id (src_...) or slug')
    .argument('<key>', 'the key id (wrk_...) or its prefix (opw_ and 8 characters)')
    .option('--json', 'print the revoked key as JSON')
    .action(async (source: string, key: string, options: { json?: boolean }) => {
      if (!/^[A-Za-z0-9_-]{1,100}$/.test(key))
        throw usage('<key> is a write key id (wrk_...) or prefix (opw_...)');
      const id = await resolveId(ctx, 'sources', source);
      const { body } = await ctx.client().request<WriteKey>('DELETE', `/api/sources/${id}/write-keys/${key}`);
      if (options.json) printJson(ctx.io, body);
      else println(ctx.io, `Revoked write key ${body.prefix}… (${body.id}) at ${body.revoked_at}`);
    });
}
