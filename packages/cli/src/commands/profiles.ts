/**
 * `openpipes profiles`: find a person's identity profile by any identifier and read it as stored
 * (docs/identifiers.md), export a profile's data; `openpipes erasure`: erase a person
 * (docs/erasure.md). Identifiers travel in a POST body, never in the URL.
 */
import type { ErasureResult, Profile } from '@openpipes/core';
import { IDENTIFIERS } from '@openpipes/core/identity';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { usage } from '../errors.js';
import { printJson, table } from '../io.js';

const line = (ctx: CommandContext, text: string) => ctx.io.stdout.write(`${text}\n`);
const show = (value: unknown) =>
  typeof value === 'string' ? value : `${JSON.stringify(value).slice(0, 80)}…`;

function printProfile(ctx: CommandContext, profile: Profile): void {
  line(ctx, `${profile.id}  first seen ${profile.created_at}, last seen ${profile.last_seen_at}`);
  if (profile.ip || profile.user_agent)
    line(ctx, `  ip ${profile.ip ?? '-'}  user agent ${profile.user_agent ?? '-'}`);
  table(
    ctx.io,
    ['KIND', 'VALUE', 'FIRST SEEN', 'LAST SEEN'],
    profile.identifiers.map((i) => [i.kind, show(i.value), i.first_seen_at, i.last_seen_at]),
  );
  for (const m of profile.merged) line(ctx, `  merged ${m.id} at ${m.merged_at}`);
}

/** One `--<kind>` option per identifier kind of the table. */
function identifierOptions(command: Command): Command {
  for (const spec of IDENTIFIERS)
    command.option(`--${spec.kind.replace(/_/g, '-')} <value>`, `a ${spec.kind}`);
  return command;
}

/** The identifiers given as options, by kind; at least one. */
function identifiersFrom(options: Record<string, string | boolean | undefined>): Record<string, string> {
  const identifiers: Record<string, string> = {};
  for (const spec of IDENTIFIERS) {
    const key = spec.kind.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    const value = options[key];
    if (typeof value === 'string') identifiers[spec.kind] = value;
  }
  if (Object.keys(identifiers).length === 0)
    throw usage('give at least one identifier, e.g. --email jane@example.com');
  return identifiers;
}

export function registerErasure(program: Command, ctx: CommandContext): void {
  const erasure = program
    .command('erasure')
    .summary('erase a person: profiles, events, delivery payloads; stop what has not left')
    .description(
      'Raw values or SHA-256 digests of any identifier kind. Needs a write key. See docs/erasure.md.',
    )
    .option('--json', 'print JSON');
  identifierOptions(erasure).action(async (options: Record<string, string | boolean | undefined>) => {
    const identifiers = identifiersFrom(options);
    const { body } = await ctx.client().request<ErasureResult>('POST', '/api/erasure', {
      body: { identifiers },
    });
    if (options.json) {
      printJson(ctx.io, body);
      return;
    }
    line(
      ctx,
      `erased ${body.profiles} profile(s), ${body.events} event(s), ${body.deliveries} delivery record(s) ` +
        `(${body.cancelled} stopped before leaving), ${body.attempts} attempt(s), ` +
        `${body.rejections} rejection(s), ${body.state} state document(s)`,
    );
    for (const id of body.profile_ids) line(ctx, `  ${id}`);
    if (!body.compacted) line(ctx, 'storage not compacted yet (the database was busy): run it again later');
  });
}

export function registerProfiles(program: Command, ctx: CommandContext): void {
  const profiles = program.command('profiles').summary('find and read identity profiles');

  const search = profiles
    .command('search')
    .summary('profiles holding any of the given identifiers')
    .description('Raw values or SHA-256 digests; personal identifiers are shown as stored (digests).')
    .option('--json', 'print JSON');
  identifierOptions(search);
  search.action(async (options: Record<string, string | boolean | undefined>) => {
    const identifiers = identifiersFrom(options);
    const { body } = await ctx.client().request<{ data: Profile[] }>('POST', '/api/profiles/search', {
      body: { identifiers },
    });
    if (options.json) {
      printJson(ctx.io, body);
      return;
    }
    if (body.data.length === 0) line(ctx, 'no profile holds these identifiers');
    for (const profile of body.data) printProfile(ctx, profile);
  });

  profiles
    .command('get <id>')
    .summary('one profile: identifiers as stored, merges')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const { body } = await ctx.client().request<Profile>('GET', `/api/profiles/${encodeURIComponent(id)}`);
      if (options.json) {
        printJson(ctx.io, body);
        return;
      }
      printProfile(ctx, body);
    });

  profiles
    .command('export <id>')
    .summary("a data subject's data as JSON: profile, identifiers as stored, events, deliveries")
    .action(async (id: string) => {
      const { body } = await ctx
        .client()
        .request<unknown>('GET', `/api/profiles/${encodeURIComponent(id)}/export`);
      printJson(ctx.io, body);
    });
}
