/**
 * `@openpipes/cli`: the `openpipes` command. `main(argv)` runs it in-process and resolves with the
 * exit code (what `bin/openpipes.js` does with `process.argv`).
 *
 * @example
 * ```ts
 * import { main } from '@openpipes/cli';
 * process.exitCode = await main(['api', 'GET', '/api/pipes']);
 * ```
 */
import { Command, CommanderError } from 'commander';
import { toCliError } from './client.js';
import { registerAlerts } from './commands/alerts.js';
import { registerApi } from './commands/api.js';
import { registerAudit } from './commands/audit.js';
import { registerConfig } from './commands/config.js';
import { registerDeliveries } from './commands/deliveries.js';
import { registerDestinations } from './commands/destinations.js';
import { registerKeys } from './commands/keys.js';
import { registerPipes } from './commands/pipes.js';
import { registerErasure, registerProfiles } from './commands/profiles.js';
import { registerReconciliation } from './commands/reconciliation.js';
import { registerSecrets } from './commands/secrets.js';
import { registerServe } from './commands/serve.js';
import { registerSources } from './commands/sources.js';
import { registerTransform } from './commands/transform.js';
import { createContext } from './context.js';
import { exitCodes } from './errors.js';
import { type Io, processIo } from './io.js';

export { CliError, type ExitCode, exitCodes } from './errors.js';
export type { Io } from './io.js';

/** The CLI's version (the package's). */
export const version = '0.1.0';

function buildProgram(io: Io, setExitCode: (code: number) => void): Command {
  const ctx = createContext(io, setExitCode);
  const program = new Command('openpipes')
    .description(
      'OpenPipes: self-hosted server-side conversion routing. `openpipes serve` runs it; the other ' +
        'commands talk to it at OPENPIPES_URL (default http://127.0.0.1:8787) with OPENPIPES_TOKEN.',
    )
    .version(version, '-v, --version')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(`openpipes: ${text.replace(/^error: /, '')}`),
    })
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 failed (e.g. a transform threw), 2 usage, 3 server unreachable, 4 request refused (4xx), 5 server error (5xx).
Docs: docs/cli.md`,
    );
  registerServe(program, ctx);
  registerApi(program, ctx);
  registerSecrets(program, ctx);
  registerConfig(program, ctx);
  registerTransform(program, ctx);
  registerKeys(program, ctx);
  registerAlerts(program, ctx);
  registerAudit(program, ctx);
  registerProfiles(program, ctx);
  registerErasure(program, ctx);
  registerDeliveries(program, ctx);
  registerDestinations(program, ctx);
  registerReconciliation(program, ctx);
  registerPipes(program, ctx);
  registerSources(program, ctx);
  // Subcommands inherit the output settings and report usage errors the same way.
  const inherit = (command: Command) => {
    for (const sub of command.commands) {
      sub
        .exitOverride()
        .showHelpAfterError('(add --help for usage)')
        .configureOutput(program.configureOutput());
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

/**
 * Runs the CLI with these arguments (without `node` and the script) and resolves with the exit
 * code. Errors are printed on stderr as `openpipes: <message>` with a hint when there is one.
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  let exitCode: number = exitCodes.ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return exitCodes.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end in a CommanderError too, with exit code 0.
      return err.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    const error = toCliError(err);
    io.stderr.write(`openpipes: ${error.message}\n`);
    if (error.hint) io.stderr.write(`  hint: ${error.hint}\n`);
    return error.exitCode;
  }
}
