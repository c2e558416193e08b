/**
 * `openpipes api METHOD PATH [--json BODY | --file FILE]`: any admin API call, the answer printed
 * as JSON. Every `mpcli api ...` line of docs/operator-flow works with `openpipes` in its place.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { CliError, exitCodes, usage } from '../errors.js';
import { parseJsonText, printJson, println, readJsonFile } from '../io.js';

const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];

export function registerApi(program: Command, ctx: CommandContext): void {
  program
    .command('api')
    .summary('call the admin REST API and print the JSON answer')
    .description(
      'Calls the admin REST API of the server at OPENPIPES_URL (default http://127.0.0.1:8787) with the ' +
        'bearer token OPENPIPES_TOKEN and prints the JSON answer. Error answers are printed too, and the ' +
        'exit code says what happened: 0 ok, 2 usage, 3 server unreachable, 4 refused (4xx), 5 server error.',
    )
    .argument('<method>', `HTTP method: ${methods.join(', ')}`)
    .argument('<path>', 'path under the server, e.g. /api/pipes/pip_01J.../deliveries')
    .option('--json <body>', 'request body: JSON text')
    .option('--file <path>', 'request body: a JSON file (- reads stdin)')
    .option('--field <path>', 'print only this field of the answer, e.g. id or data.0.id (strings unquoted)')
    .addHelpText(
      'after',
      `
Examples:
  openpipes api GET /api/pipes
  openpipes api POST /api/event-destinations --file ./meta-capi-destination.json
  openpipes api PUT /api/event-destinations/dst_.../secrets --json '{"secretIds":["sec_..."]}'
  openpipes api PUT /api/pipes/pip_.../toggle --json '{"enabled": true}'
  openpipes api POST /api/pipes/pip_.../revert --json '{"version": 3}'
  DST=$(openpipes api POST /api/event-destinations --file ./meta-capi-destination.json --field id)`,
    )
    .action(
      async (method: string, path: string, options: { json?: string; file?: string; field?: string }) => {
        const verb = method.toUpperCase();
        if (!methods.includes(verb))
          throw usage(`unknown method ${method}; use one of ${methods.join(', ')}`);
        if (options.json !== undefined && options.file !== undefined) {
          throw usage('give the body with --json or with --file, not both');
        }
        let body: unknown;
        if (options.json !== undefined) body = parseJsonText(options.json, '--json');
        if (options.file !== undefined) body = await readJsonFile(ctx.io, options.file);
        try {
          const answer = await ctx.client().request(verb, path, { body });
          if (options.field !== undefined) printField(ctx, answer.body, options.field);
          else if (answer.body !== undefined) printJson(ctx.io, answer.body);
        } catch (err) {
          // Like curl: the server's error answer goes to stdout for scripts; the hint to stderr.
          if (err instanceof CliError && err.body !== undefined) printJson(ctx.io, err.body);
          throw err;
        }
      },
    );
}

/** Prints one field of an answer: a string as is (for shell variables), anything else as JSON. */
function printField(ctx: CommandContext, body: unknown, path: string): void {
  let value: unknown = body;
  for (const part of path.split('.').filter(Boolean)) {
    if (value === null || typeof value !== 'object' || !(part in value)) {
      throw new CliError(`the answer has no field ${path}`, exitCodes.failure, undefined, body);
    }
    value = (value as Record<string, unknown>)[part];
  }
  if (typeof value === 'string') println(ctx.io, value);
  else printJson(ctx.io, value);
}
