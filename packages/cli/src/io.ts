/**
 * Input and output helpers: JSON and tables on stdout, messages on stderr, values from stdin,
 * JSON files with errors that point at the problem.
 */
import { readFileSync } from 'node:fs';
import { CliError, exitCodes, usage } from './errors.js';

/** Where a command writes. Tests and embedders may pass their own streams. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
}

export const processIo = (): Io => ({
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});

/** Writes a value as indented JSON on stdout. */
export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** An error as the CLI shows it on one line: `CODE: message`. */
export function errorText(error: { code: string; message: string }): string {
  return `${error.code}: ${error.message}`;
}

/** Writes a line on stdout. */
export function println(io: Io, line = ''): void {
  io.stdout.write(`${line}\n`);
}

/** Writes a message on stderr (progress, notes; never data a script would parse). */
export function note(io: Io, line: string): void {
  io.stderr.write(`${line}\n`);
}

/**
 * A plain-text table: a header row and aligned columns (the last column is not padded).
 *
 * @example
 * ```ts
 * table(io, ['ID', 'KEY'], secrets.map((s) => [s.id, s.key]));
 * ```
 */
export function table(
  io: Io,
  header: string[],
  rows: Array<Array<string | number | null | undefined>>,
): void {
  if (rows.length === 0) {
    println(io, '(none)');
    return;
  }
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const row of cells) {
    println(
      io,
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    );
  }
}

/**
 * Reads all of stdin as text. One trailing newline (what `echo` adds) is removed; an empty value is
 * refused, so a forgotten pipe never stores an empty secret.
 */
export async function readValueFromStdin(io: Io, what: string): Promise<string> {
  if (io.stdin.isTTY) note(io, `Type the ${what}, then press Ctrl-D (it is not echoed to any log):`);
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  const value = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (value.length === 0) {
    throw usage(
      `the ${what} read from stdin is empty`,
      `pipe it in, e.g. printf '%s' "$VALUE" | openpipes ...`,
    );
  }
  return value;
}

/** Reads a JSON file (or stdin for `-`); a syntax error names the file, line and column. */
export async function readJsonFile(io: Io, path: string): Promise<unknown> {
  let text: string;
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw usage(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : String(err)}`);
    }
  }
  return parseJsonText(text, path === '-' ? 'stdin' : path);
}

/** Parses JSON text; a syntax error names where it is. */
export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const position = /position (\d+)/.exec(message)?.[1];
    let at = '';
    if (position !== undefined) {
      const before = text.slice(0, Number(position));
      const line = before.split('\n').length;
      const column = Number(position) - before.lastIndexOf('\n');
      at = ` (line ${line}, column ${column})`;
    }
    throw new CliError(`${where} is not valid JSON${at}: ${message}`, exitCodes.usage);
  }
}

/** Reads a text file; a missing one is a usage error. */
export function readTextFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw usage(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : String(err)}`);
  }
}

/**
 * What a list command prints: `value` as JSON with `--json` (`json` set), else a table of `header`
 * and the rows `rows()` gives.
 *
 * @example
 * ```ts
 * printList(io, options.json, body, ['ID', 'KEY'], () => body.data.map((s) => [s.id, s.key]));
 * ```
 */
export function printList(
  io: Io,
  json: boolean | undefined,
  value: unknown,
  header: string[],
  rows: () => Array<Array<string | number | null | undefined>>,
): void {
  if (json) printJson(io, value);
  else table(io, header, rows());
}
