/**
 * How the CLI fails: one error type carrying its exit code and a hint that says what to do, and
 * the exit codes scripts can rely on.
 */

/**
 * Exit codes of every `openpipes` command.
 *
 * @example
 * ```sh
 * openpipes api GET /api/pipes; case $? in 3) echo "server down";; 4) echo "bad request";; esac
 * ```
 */
export const exitCodes = {
  /** Done. */
  ok: 0,
  /** The command ran and reports a failure: a transform threw, an alert test failed, a server could not start. */
  failure: 1,
  /** Wrong arguments, a file that is missing or not JSON: nothing was sent. */
  usage: 2,
  /** The server could not be reached (connection refused, DNS, timeout). */
  unreachable: 3,
  /** The server answered 4xx: the request was refused (validation, not found, no or wrong token). */
  clientError: 4,
  /** The server answered 5xx. */
  serverError: 5,
} as const;
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/**
 * An error the CLI reports as `openpipes: <message>` plus an optional hint, then exits with `exitCode`.
 *
 * @example
 * ```ts
 * throw new CliError('events.json is not JSON', exitCodes.usage, 'give --events a JSON array of events');
 * ```
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
    /** A JSON body to print on stdout as well (the server's error answer, for `api`). */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** A usage error: nothing was sent. */
export function usage(message: string, hint?: string): CliError {
  return new CliError(message, exitCodes.usage, hint);
}
