/**
 * `openpipes keys create|list|revoke`: admin API keys with a read or write scope. The token is
 * printed once, at creation; the server keeps only its digest.
 */
import type { ApiKey, CreatedApiKey } from '@openpipes/core';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { usage } from '../errors.js';
import { note, printJson, printList, println } from '../io.js';

export function registerKeys(program: Command, ctx: CommandContext): void {
  const keys = program.command('keys').summary('create, list and revoke admin API keys');

  keys
    .command('create')
    .description('Create an API key. Its token is printed this once; store it now.')
    .requiredOption('--name <name>', 'who uses it (recorded as the actor in the audit trail)')
    .requiredOption(
      '--scope <scope>',
      'read (GET only), write (everything but personal data) or privacy (everything, with profiles and erasure)',
    )
    .option('--description <text>', 'what the key is for')
    .option('--json', 'print the key and its token as JSON')
    .action(async (options: { name: string; scope: string; description?: string; json?: boolean }) => {
      if (!['read', 'write', 'privacy'].includes(options.scope)) {
        throw usage(`--scope must be read, write or privacy, not ${options.scope}`);
      }
      const { body } = await ctx.client().request<CreatedApiKey>('POST', '/api/api-keys', {
        body: { name: options.name, scope: options.scope, description: options.description },
      });
      if (options.json) {
        printJson(ctx.io, body);
        return;
      }
      note(ctx.io, `Created API key "${body.name}" (${body.id}) with the ${body.scope} scope.`);
      note(ctx.io, 'Its token follows, shown this once (the server keeps only its digest):');
      println(ctx.io, body.token);
      note(ctx.io, `Use it: export OPENPIPES_TOKEN=<the token above>`);
    });

  keys
    .command('list')
    .description('List API keys, revoked ones included. Never a token.')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const all = await ctx.client().listAll<ApiKey>('/api/api-keys');
      printList(ctx.io, options.json, all, ['ID', 'NAME', 'SCOPE', 'TOKEN', 'CREATED', 'REVOKED'], () =>
        all.map((k) => [k.id, k.name, k.scope, k.token_hint, k.created_at, k.revoked_at]),
      );
    });

  keys
    .command('revoke')
    .description('Revoke an API key: every server refuses it from its next request.')
    .argument('<id>', 'the key id (key_...)')
    .option('--json', 'print the revoked key as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const { body } = await ctx.client().request<ApiKey>('DELETE', `/api/api-keys/${id}`);
      if (options.json) printJson(ctx.io, body);
      else println(ctx.io, `Revoked API key "${body.name}" (${body.id}) at ${body.revoked_at}`);
    });
}
