/**
 * Test support: the real `openpipes` binary (bin/openpipes.js → dist/cli.js), spawned as child
 * processes. `startServe` runs `openpipes serve` on a free port and a temporary SQLite file;
 * `openpipes(...)` runs one CLI command against it. Every process started here is killed by
 * `stopAll()` (call it in `afterEach`/`afterAll`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@openpipes/core/testing';

export const bin = fileURLToPath(new URL('../bin/openpipes.js', import.meta.url));

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

/** A temporary directory, removed by `stopAll()`. */
export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `openpipes-cli-${tag}-`));
  dirs.add(dir);
  return dir;
}

/** The environment of a child: this one without any OPENPIPES_ settings, plus `env`. */
export function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('OPENPIPES_') && key !== 'PORT') base[key] = value;
  }
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}

export interface CliResult {
  code: number | null;
  /** The signal that ended the process (null when it exited by itself: then `code` says how). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read JSON answers field by field
  json<T = any>(): T;
}

/**
 * Spawns `openpipes <args>` (killed by `stopAll()` if still running) and gathers what it prints
 * into `output` as it comes.
 */
function spawnOpenpipes(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; stdin: 'pipe' | 'ignore' },
): { child: ChildProcess; output: { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [bin, ...args], {
    env: childEnv(options.env ?? {}),
    cwd: options.cwd,
    stdio: [options.stdin, 'pipe', 'pipe'],
  });
  children.add(child);
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  return { child, output };
}

/**
 * Runs `openpipes <args>` and resolves when it exits (asynchronously, so servers in this process,
 * such as the Meta stand-in, keep answering meanwhile).
 */
export function openpipes(
  args: string[],
  options: {
    env?: Record<string, string | undefined>;
    stdin?: string;
    cwd?: string;
    timeoutMs?: number;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const { child, output } = spawnOpenpipes(args, { env: options.env, cwd: options.cwd, stdin: 'pipe' });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`openpipes ${args.join(' ')} did not finish in time\n${output.stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      const { stdout, stderr } = output;
      resolve({
        code,
        signal,
        stdout,
        stderr,
        json() {
          try {
            return JSON.parse(stdout);
          } catch {
            throw new Error(`openpipes ${args.join(' ')} printed no JSON:\n${stdout}\n${stderr}`);
          }
        },
      });
    });
    child.stdin!.end(options.stdin ?? '');
  });
}

/** Like {@link openpipes}, but rejects, with everything it printed, unless the command exits 0. */
export async function openpipesOk(
  args: string[],
  options: Parameters<typeof openpipes>[1] = {},
): Promise<CliResult> {
  const result = await openpipes(args, options);
  if (result.code !== 0) {
    throw new Error(`openpipes ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

export interface ServeProcess {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The admin token (from the file beside the database, or the env it was given). */
  token: string;
  /** OPENPIPES_URL and OPENPIPES_TOKEN for CLI commands against this server. */
  env: Record<string, string>;
  database: string;
  process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Sends a signal and resolves with the exit code and how long the exit took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

/** Starts `openpipes serve --port 0` and waits until it listens. */
export async function startServe(
  options: {
    database?: string;
    /** Run on PostgreSQL (`--postgres <url>`) instead of a SQLite file. */
    postgres?: string;
    args?: string[];
    env?: Record<string, string | undefined>;
    cwd?: string;
  } = {},
): Promise<ServeProcess> {
  const database = options.database ?? join(tempDir('serve'), 'openpipes.db');
  const store = options.postgres ? ['--postgres', options.postgres] : ['--db', database];
  const args = [
    'serve',
    '--port',
    '0',
    ...store,
    '--log-format',
    'json',
    '--workers',
    '1',
    ...(options.args ?? []),
  ];
  const { child, output } = spawnOpenpipes(args, { env: options.env, cwd: options.cwd, stdin: 'ignore' });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    });
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`openpipes serve did not start:\n${output.stdout}\n${output.stderr}`)),
      30_000,
    );
    // After spawnOpenpipes' own listener: `output.stdout` holds this chunk already.
    child.stdout!.on('data', () => {
      const match = /OpenPipes is listening on (http:\/\/\S+)/.exec(output.stdout);
      // The banner is complete when its last line is out.
      if (match && /Stop with Ctrl-C/.test(output.stdout)) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`openpipes serve exited with ${code}:\n${output.stdout}\n${output.stderr}`));
    });
  });
  const token = options.env?.OPENPIPES_ADMIN_TOKEN ?? readFileSync(`${database}.admin-token`, 'utf8').trim();
  return {
    url,
    token,
    env: { OPENPIPES_URL: url, OPENPIPES_TOKEN: token },
    database,
    process: child,
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    async stop(signal = 'SIGTERM') {
      const started = Date.now();
      if (child.exitCode !== null) return { code: child.exitCode, ms: 0 };
      child.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - started };
    },
  };
}

/** Makes `stopAll()` kill `child` too (a process a test module spawned itself). */
export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Kills every process started here and removes the temporary directories. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/** Polls until `check` gives a value: core's `waitFor`, with the CLI tests' longer default. */
export const eventually = <T>(check: () => Promise<T | null | undefined | false>, timeoutMs = 20_000) =>
  waitFor(check, timeoutMs);

/**
 * POSTs `body` as JSON to a running server's `/collect/<slug>`, as a site would, and returns the
 * answer (202 when the events were stored).
 *
 * @example
 * expect((await collect(serve.url, purchaseEvent('ord_1'))).status).toBe(202);
 */
export function collect(baseUrl: string, body: unknown, slug = 'web'): Promise<Response> {
  return fetch(`${baseUrl}/collect/${slug}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/**
 * Creates the `web` source (named Web) and the event type `eventType` through
 * `openpipes api POST`, as an operator would from a shell; rejects unless both commands exit 0.
 *
 * @example
 * await createSourceAndEventTypeOverCli(serve.env, { name: 'purchase', schema: purchaseSchema });
 */
export async function createSourceAndEventTypeOverCli(
  env: Record<string, string>,
  eventType: { name: string; schema: unknown },
): Promise<void> {
  await openpipesOk(['api', 'POST', '/api/sources', '--json', '{"name":"Web","slug":"web"}'], { env });
  await openpipesOk(['api', 'POST', '/api/event-types', '--json', JSON.stringify(eventType)], { env });
}
