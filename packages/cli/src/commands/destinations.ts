/**
 * `openpipes destinations send-test <destination>`: a destination's `send()` outside delivery, a dry
 * run (every request recorded and answered with a synthetic 200; nothing leaves the server) or a
 * test send in the platform's test mode, through `POST /api/event-destinations/{id}/send-test`.
 */
import type { SendTestResult } from '@openpipes/core';
import type { Command } from 'commander';
import { type CommandContext, resolveId } from '../context.js';
import { usage } from '../errors.js';
import { errorText, note, printJson, println, readJsonFile } from '../io.js';

interface SendTestOptions {
  outputs?: string;
  events?: string;
  pipe?: string;
  test?: boolean;
  testEventCode?: string;
  json?: boolean;
}

/** A file holds one item, an array, or `{ "events": [...] }` / `{ "outputs": [...] }`. */
function listOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value && typeof value === 'object') {
    const inner =
      (value as { events?: unknown; outputs?: unknown }).outputs ?? (value as { events?: unknown }).events;
    if (Array.isArray(inner)) return inner;
  }
  return [value];
}

export function registerDestinations(program: Command, ctx: CommandContext): void {
  const destinations = program.command('destinations').summary("a destination's send(), tried out");

  destinations
    .command('send-test')
    .description(
      "Run a destination's send() without delivering: by default a dry run, where every request is recorded and answered with a synthetic 200 {} (nothing leaves the server); --test sends for real in the platform's test mode (template destinations that have one).",
    )
    .argument('<destination>', 'destination id (dst_...) or name')
    .option('--outputs <file>', "JSON: what send() gets (a transform's output)")
    .option('--events <file>', "JSON: events to run through --pipe's transform first")
    .option('--pipe <pipe>', 'with --events: the pipe (to this destination) whose transform runs')
    .option('--test', "send for real in the platform's test mode")
    .option('--test-event-code <code>', 'test mode of Meta and TikTok: the code from Events Manager')
    .option('--json', 'print the whole answer as JSON')
    .action(async (destination: string, options: SendTestOptions) => {
      if ((options.outputs === undefined) === (options.events === undefined)) {
        throw usage('give --outputs <file> or --events <file>');
      }
      if (options.events !== undefined && options.pipe === undefined) throw usage('--events needs --pipe');
      const id = await resolveId(ctx, 'event-destinations', destination);
      const body: Record<string, unknown> = { mode: options.test ? 'test' : 'dry' };
      if (options.outputs !== undefined) body.outputs = listOf(await readJsonFile(ctx.io, options.outputs));
      if (options.events !== undefined) {
        body.events = listOf(await readJsonFile(ctx.io, options.events));
        body.pipe_id = await resolveId(ctx, 'pipes', options.pipe!);
      }
      if (options.testEventCode !== undefined) body.test_event_code = options.testEventCode;
      const { body: result } = await ctx
        .client()
        .request<SendTestResult>('POST', `/api/event-destinations/${id}/send-test`, { body });
      if (options.json) {
        printJson(ctx.io, result);
        return;
      }
      note(ctx.io, result.note);
      result.requests.forEach((exchange, i) => {
        println(ctx.io, `request ${i + 1}: ${exchange.request.method} ${exchange.request.url}`);
        println(ctx.io, JSON.stringify(exchange.request.payload ?? null, null, 2));
        const answer = exchange.response
          ? `${exchange.response.status} ${JSON.stringify(exchange.response.body ?? null)}`
          : `${exchange.error?.code}: ${exchange.error?.message}`;
        println(ctx.io, `answer${result.synthetic ? ' (synthetic)' : ''}: ${answer}`);
      });
      for (const line of result.logs) println(ctx.io, `console.${line.level}: ${line.message}`);
      if (result.error) println(ctx.io, `error: ${errorText(result.error)}`);
      println(ctx.io, `outcome: ${result.outcome.join(', ')}${result.test_mode ? ' (test mode)' : ''}`);
    });
}
