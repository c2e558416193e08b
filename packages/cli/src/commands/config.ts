/**
 * `openpipes config export` and `openpipes config import`: the configuration from staging to
 * production. Progress goes to stderr; the document (export) or the plan (import) to stdout.
 */
import { writeFileSync } from 'node:fs';
import type { ConfigDocument, ConfigImportResult } from '@openpipes/core';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { note, printJson, println, readJsonFile } from '../io.js';
import { createProgress } from '../progress.js';

const kindLabels: Record<string, string> = {
  secret: 'secret',
  event_type: 'event type',
  source: 'source',
  destination: 'destination',
  pipe: 'pipe',
  alert_channel: 'alert channel',
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The plan as an operator reads it: what changes, what is skipped and why, what is still needed. */
export function printPlan(ctx: CommandContext, result: ConfigImportResult, file: string): void {
  const { io } = ctx;
  println(io, result.dry_run ? `Plan for ${file} (dry run: nothing was written)` : `Imported ${file}`);
  const shown = result.changes.filter((c) => c.action !== 'unchanged' && c.action !== 'missing');
  const width = Math.max(0, ...shown.map((c) => (kindLabels[c.kind] ?? c.kind).length));
  for (const change of shown) {
    const fields = change.fields?.length ? ` (${change.fields.join(', ')})` : '';
    const why = change.note ? `: ${change.note}` : '';
    println(
      io,
      `  ${change.action.padEnd(9)} ${(kindLabels[change.kind] ?? change.kind).padEnd(width)}  ${change.name}${fields}${why}`,
    );
  }
  const { summary } = result;
  const verb = result.dry_run ? ['to create', 'to update'] : ['created', 'updated'];
  if (summary.create + summary.update + summary.skip === 0) {
    println(io, `Nothing to change: ${summary.unchanged} unchanged.`);
  } else {
    println(
      io,
      `${summary.create} ${verb[0]}, ${summary.update} ${verb[1]}, ${summary.unchanged} unchanged, ${summary.skip} skipped.`,
    );
  }
  if (result.missing_secrets.length > 0) {
    println(io);
    println(io, 'Secrets this instance still needs (a config never carries values):');
    for (const secret of result.missing_secrets) {
      const by = secret.needed_by.length ? ` (needed by ${secret.needed_by.join(', ')})` : '';
      println(io, `  ${secret.key}${by}`);
      println(io, `    printf '%s' "$VALUE" | openpipes secrets create --key ${secret.key} --value-stdin`);
    }
    println(io, `Then import again: openpipes config import ${file}`);
  }
}

export function registerConfig(program: Command, ctx: CommandContext): void {
  const config = program
    .command('config')
    .summary('export and import the configuration (staging → production)');

  config
    .command('export')
    .description(
      'Print the configuration as one JSON document: sources, event types, secret names (never values), ' +
        'destinations with the keys of their secrets, pipes, alert channels (never their URL).',
    )
    .option('--out <file>', 'write to this file instead of stdout')
    .addHelpText('after', '\nExample:\n  openpipes config export > config.json')
    .action(async (options: { out?: string }) => {
      const progress = createProgress(ctx.io, 'export');
      const doc = await ctx.client().stream<ConfigDocument>('GET', '/api/config/export', {
        onProgress: progress.update,
      });
      progress.done();
      const text = `${JSON.stringify(doc, null, 2)}\n`;
      if (options.out) writeFileSync(options.out, text);
      else ctx.io.stdout.write(text);
      const counts = [
        plural(doc.sources.length, 'source'),
        plural(doc.event_types.length, 'event type'),
        plural(doc.secrets.length, 'secret name'),
        plural(doc.destinations.length, 'destination'),
        plural(doc.pipes.length, 'pipe'),
        plural(doc.alert_channels.length, 'alert channel'),
      ];
      note(ctx.io, `Exported ${counts.join(', ')}${options.out ? ` to ${options.out}` : ''}.`);
    });

  config
    .command('import')
    .description(
      'Make the server match a config document: create what is missing, update what differs (matched by ' +
        'slug, name and key), leave everything else alone. Prints the plan and the secrets still needed. ' +
        'Importing the same document twice changes nothing.',
    )
    .argument('<file>', 'a document from `openpipes config export` (- reads stdin)')
    .option('--dry-run', 'show the plan and check the code; write nothing')
    .option('--json', 'print the plan as JSON')
    .addHelpText('after', '\nExample:\n  openpipes config import config.json --dry-run')
    .action(async (file: string, options: { dryRun?: boolean; json?: boolean }) => {
      const doc = await readJsonFile(ctx.io, file);
      const progress = createProgress(ctx.io, options.dryRun ? 'import (dry run)' : 'import');
      const result = await ctx.client().stream<ConfigImportResult>('POST', '/api/config/import', {
        body: doc,
        query: { dry_run: options.dryRun ? 'true' : undefined },
        onProgress: progress.update,
      });
      progress.done();
      if (options.json) printJson(ctx.io, result);
      else printPlan(ctx, result, file);
    });
}
