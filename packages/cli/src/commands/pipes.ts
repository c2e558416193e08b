/**
 * `openpipes pipes match-quality <pipe>`: the share of a pipe's delivered events that carried each
 * identifier its destination declares, before and after stitching (`GET /api/pipes/:id/match-quality`).
 */
import type { MatchQuality } from '@openpipes/core';
import type { Command } from 'commander';
import { type CommandContext, resolveId } from '../context.js';
import { printJson, println, table } from '../io.js';

const percent = (share: number | null) => (share === null ? '-' : `${Math.round(share * 1000) / 10}%`);

export function registerPipes(program: Command, ctx: CommandContext): void {
  const pipes = program.command('pipes').summary('pipes: match quality');
  pipes
    .command('match-quality')
    .summary('which identifiers left with the delivered events, before and after stitching')
    .description(
      "Of the pipe's delivered events in the window, the share that carried each identifier its destination declares: raw (on the incoming event) and stitched (in the request that left).",
    )
    .argument('<pipe>', 'pipe id or name')
    .option('--window <window>', '1h, 24h or 7d', '24h')
    .option('--json', 'print JSON')
    .action(async (pipe: string, options: { window: string; json?: boolean }) => {
      const id = await resolveId(ctx, 'pipes', pipe);
      const { body } = await ctx.client().request<MatchQuality>('GET', `/api/pipes/${id}/match-quality`, {
        query: { window: options.window },
      });
      if (options.json) {
        printJson(ctx.io, body);
        return;
      }
      if (!body.measured) {
        println(ctx.io, `not measured: the pipe's destination declares no identifiers (a custom send())`);
        return;
      }
      println(ctx.io, `${body.delivered} delivered events measured from ${body.since} to ${body.until}`);
      table(
        ctx.io,
        ['IDENTIFIER', 'RAW', 'STITCHED'],
        body.identifiers.map((r) => [
          r.identifier,
          `${percent(r.raw_share)} (${r.raw})`,
          `${percent(r.stitched_share)} (${r.stitched})`,
        ]),
      );
    });
}
