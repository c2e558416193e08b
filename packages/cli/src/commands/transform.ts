/**
 * `openpipes transform test transform.js --events fixtures.json`: runs a pipe transform over
 * fixture events in the sandbox production uses (the same QuickJS runtime, limits and vetted
 * modules; what `runTransform` in `@openpipes/core/testing` runs), offline, no server needed.
 * Prints the output events, or the error with its line and the code around it.
 */
import { basename } from 'node:path';
import {
  createRedactor,
  createSandbox,
  incomingEventSchema,
  parseOrThrow,
  type SandboxEvent,
  type SandboxFailure,
} from '@openpipes/core';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { CliError, exitCodes, usage } from '../errors.js';
import { note, printJson, readJsonFile, readTextFile } from '../io.js';

interface TransformTestOptions {
  events: string;
  secret?: string[];
  profiles?: string;
  json?: boolean;
  showSecrets?: boolean;
}

const collectSecret = (value: string, previous: string[] = []) => [...previous, value];

/** Fixture files hold one event, an array of events, or `{ "events": [...] }`, as collect takes them. */
function fixtureEvents(value: unknown, file: string): SandboxEvent[] {
  const list = Array.isArray(value)
    ? value
    : value && typeof value === 'object' && Array.isArray((value as { events?: unknown }).events)
      ? (value as { events: unknown[] }).events
      : [value];
  return list.map((raw, i) => {
    try {
      // The same normalisation collect applies: ISO times, and an event_id as ingest would assign.
      const event = parseOrThrow(incomingEventSchema, raw, `event ${i} of ${file}`);
      return { ...event, event_id: event.event_id ?? `evt_fixture_${i}` };
    } catch (err) {
      throw usage((err as Error).message, 'a fixture event has event_type, event_time and event_payload');
    }
  });
}

function parseSecrets(pairs: string[] = []): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw usage(`--secret takes KEY=VALUE, not ${pair}`);
    secrets[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return secrets;
}

/** A few lines of code around a line, with a caret under the column. */
function excerpt(code: string, line: number | undefined, column: number | undefined): string {
  if (line === undefined) return '';
  const lines = code.split('\n');
  const from = Math.max(1, line - 2);
  const to = Math.min(lines.length, line + 1);
  const width = String(to).length;
  const out: string[] = [];
  for (let n = from; n <= to; n++) {
    out.push(`${n === line ? '>' : ' '} ${String(n).padStart(width)} | ${lines[n - 1] ?? ''}`);
    if (n === line && column !== undefined)
      out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, column - 1))}^`);
  }
  return out.join('\n');
}

function failureMessage(file: string, failure: SandboxFailure, where: string): string {
  const at =
    failure.line !== undefined
      ? `:${failure.line}${failure.column !== undefined ? `:${failure.column}` : ''}`
      : '';
  return `${basename(file)}${at}: ${failure.code}: ${failure.message}${where ? ` (${where})` : ''}`;
}

export function registerTransform(program: Command, ctx: CommandContext): void {
  const transform = program.command('transform').summary('test a pipe transform locally, offline');

  transform
    .command('test')
    .description(
      'Run a transform over fixture events in the sandbox production uses, and print the output events. ' +
        'On an error, prints it with its line and the code around it, and exits 1.',
    )
    .argument('<file>', 'JavaScript file defining function transform({ events, profiles, secrets })')
    .requiredOption('--events <file>', 'fixture events: a JSON array (or one event, or {"events": [...]})')
    .option('--secret <KEY=VALUE>', 'a secret the transform reads (repeatable)', collectSecret)
    .option(
      '--show-secrets',
      'print --secret values as they are; by default they are shown as [secret:KEY], as delivery records show them',
    )
    .option('--profiles <file>', 'a JSON file passed as `profiles`')
    .option('--json', 'print {ok, outputs, results} as JSON (errors included)')
    .addHelpText(
      'after',
      '\nExample:\n  openpipes transform test ./purchase-to-meta.js --events ./fixtures/purchases.json --secret GOOGLE_ADS_CONVERSION_ACTION=customers/1/conversionActions/2',
    )
    .action(async (file: string, options: TransformTestOptions) => {
      const code = readTextFile(file);
      const events = fixtureEvents(await readJsonFile(ctx.io, options.events), options.events);
      const secrets = parseSecrets(options.secret);
      // What is printed may land in a CI log: secret values are shown as records show them.
      const redact = options.showSecrets ? <T>(value: T): T => value : createRedactor(secrets);
      const profiles = options.profiles ? await readJsonFile(ctx.io, options.profiles) : {};
      // One worker, no network: a transform never fetches; the sandbox refuses it anyway.
      const sandbox = createSandbox({ workers: 1, egress: { allow: [] } });
      try {
        let run: Awaited<ReturnType<typeof sandbox.transform>>;
        try {
          await sandbox.compile({ kind: 'transform', code });
          run = await sandbox.transform({
            code: { kind: 'transform', owner: 'cli_transform_test', version: 1, code },
            events,
            profiles,
            secrets,
          });
        } catch (err) {
          const details = (err as { details?: { line?: number; column?: number } }).details ?? {};
          const failure: SandboxFailure = {
            code: ((err as { code?: string }).code as SandboxFailure['code']) ?? 'USER_CODE_ERROR',
            message: (err as Error).message.replace(/ \(line \d+(, column \d+)?\)$/, ''),
            line: details.line,
            column: details.column,
          };
          return report(ctx, { file, code, failure: redact(failure), where: '', json: options.json });
        }
        for (const line of run.logs) note(ctx.io, redact(`console.${line.level}: ${line.message}`));
        const failed = run.results.findIndex((r) => !r.ok);
        if (failed >= 0) {
          const result = run.results[failed] as { ok: false; error: SandboxFailure };
          const where = `event ${failed}, event_id ${events[failed]?.event_id}`;
          return report(ctx, { file, code, failure: redact(result.error), where, json: options.json });
        }
        const outputs = run.results.flatMap((r) => (r.ok ? r.outputs : []));
        // Why each filtered event was filtered: its transform's reason, or `transform` (docs/consent.md).
        const reasonOf = (r: (typeof run.results)[number]) =>
          r.ok && r.outputs.length === 0 ? (r.filter_reason ?? 'transform') : null;
        const reasons = new Map<string, number>();
        for (const r of run.results) {
          const reason = reasonOf(r);
          if (reason !== null) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        }
        const filtered = [...reasons.values()].reduce((a, b) => a + b, 0);
        if (options.json) {
          printJson(ctx.io, {
            ok: true,
            outputs: redact(outputs),
            results: run.results.map((r, i) => ({
              index: i,
              event_id: events[i]?.event_id,
              outputs: r.ok ? r.outputs.length : 0,
              filter_reason: reasonOf(r),
            })),
          });
          return;
        }
        printJson(ctx.io, redact(outputs));
        note(
          ctx.io,
          `${events.length} event${events.length === 1 ? '' : 's'} in, ${outputs.length} out` +
            (filtered > 0
              ? ` (${filtered} filtered out: ${[...reasons].map(([reason, n]) => `${n} ${reason}`).join(', ')})`
              : ''),
        );
      } finally {
        await sandbox.close();
      }
    });
}

function report(
  ctx: CommandContext,
  input: { file: string; code: string; failure: SandboxFailure; where: string; json?: boolean },
): void {
  const { failure } = input;
  if (input.json) {
    printJson(ctx.io, {
      ok: false,
      error: {
        code: failure.code,
        message: failure.message,
        line: failure.line,
        column: failure.column,
        where: input.where || undefined,
      },
    });
    ctx.setExitCode(exitCodes.failure);
    return;
  }
  const shown = excerpt(input.code, failure.line, failure.column);
  throw new CliError(
    `${failureMessage(input.file, failure, input.where)}${shown ? `\n${shown}` : ''}`,
    exitCodes.failure,
  );
}
