/**
 * `openpipes secrets create|update-value|list|delete`: values are read from stdin only (never from
 * an argument, which would land in shell history) and never printed.
 */
import type { Secret } from '@openpipes/core';
import type { Command } from 'commander';
import { type CommandContext, resolveId } from '../context.js';
import { usage } from '../errors.js';
import { printJson, printList, println, readValueFromStdin } from '../io.js';

const noValueFlag = () =>
  usage(
    'the value is read from stdin only: pass --value-stdin and pipe it in',
    `printf '%s' "$META_TOKEN" | openpipes secrets create --key META_ACCESS_TOKEN --value-stdin`,
  );

export function registerSecrets(program: Command, ctx: CommandContext): void {
  const secrets = program
    .command('secrets')
    .summary('create, rotate and list secrets (values are never printed)');

  secrets
    .command('create')
    .description('Create a secret. The value comes from stdin, so it stays out of shell history.')
    .requiredOption('--key <key>', 'the secret key, e.g. META_ACCESS_TOKEN')
    .option('--value-stdin', 'read the value from stdin')
    .option('--description <text>', 'what the secret is for')
    .option('--json', 'print the secret (metadata) as JSON')
    .option('-q, --quiet', 'print only the new id (for shell variables)')
    .addHelpText(
      'after',
      `\nExample:\n  printf '%s' "$META_TOKEN" | openpipes secrets create --key META_ACCESS_TOKEN --value-stdin --description "Meta CAPI pixel token"`,
    )
    .action(
      async (options: {
        key: string;
        valueStdin?: boolean;
        description?: string;
        json?: boolean;
        quiet?: boolean;
      }) => {
        if (!options.valueStdin) throw noValueFlag();
        const value = await readValueFromStdin(ctx.io, `value of ${options.key}`);
        const { body } = await ctx.client().request<Secret>('POST', '/api/secrets', {
          body: { key: options.key, value, description: options.description },
        });
        if (options.json) printJson(ctx.io, body);
        else if (options.quiet) println(ctx.io, body.id);
        else println(ctx.io, `Created secret ${body.key}: ${body.id}`);
      },
    );

  secrets
    .command('update-value')
    .description('Rotate a secret: the next delivery uses the new value; nothing else changes.')
    .argument('<secret>', 'the secret id (sec_...) or key')
    .option('--value-stdin', 'read the new value from stdin')
    .option('--json', 'print the secret (metadata) as JSON')
    .addHelpText(
      'after',
      `\nExample:\n  printf '%s' "$NEW_TOKEN" | openpipes secrets update-value sec_01J... --value-stdin`,
    )
    .action(async (secret: string, options: { valueStdin?: boolean; json?: boolean }) => {
      if (!options.valueStdin) throw noValueFlag();
      const id = await resolveId(ctx, 'secrets', secret);
      const value = await readValueFromStdin(ctx.io, 'new value');
      const { body } = await ctx.client().request<Secret>('PUT', `/api/secrets/${id}/value`, {
        body: { value },
      });
      if (options.json) printJson(ctx.io, body);
      else println(ctx.io, `Rotated ${body.key} (${body.id}): value version ${body.value_version}`);
    });

  secrets
    .command('list')
    .description('List secrets: keys and metadata, never values.')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const all = await ctx.client().listAll<Secret>('/api/secrets');
      printList(
        ctx.io,
        options.json,
        all,
        ['ID', 'KEY', 'VALUE VERSION', 'VALUE UPDATED', 'DESCRIPTION'],
        () => all.map((s) => [s.id, s.key, s.value_version, s.value_updated_at, s.description ?? '']),
      );
    });

  secrets
    .command('delete')
    .description('Delete a secret (refused while a destination, source or alert channel uses it).')
    .argument('<secret>', 'the secret id (sec_...) or key')
    .action(async (secret: string) => {
      const id = await resolveId(ctx, 'secrets', secret);
      await ctx.client().request('DELETE', `/api/secrets/${id}`);
      println(ctx.io, `Deleted secret ${id}`);
    });
}
