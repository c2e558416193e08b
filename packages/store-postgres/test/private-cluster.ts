/**
 * A throwaway PostgreSQL cluster of a test's own: `initdb` into a temp dir, `pg_ctl` on a free port
 * (TCP on 127.0.0.1 only, its unix socket in the temp dir), so a test may restart, crash or stop
 * it without touching the shared cluster on 5432 that other tests use at the same time.
 *
 * PostgreSQL refuses to run as root; as root (CI, this machine kind) every binary runs as the
 * `postgres` OS user through `runuser`. The binaries come from `OPENPIPES_PG_BIN`, else the newest
 * `/usr/lib/postgresql/<version>/bin`, else `PATH`.
 *
 * @example
 * ```ts
 * const cluster = await startPrivateCluster();
 * const store = postgresStore({ connectionString: cluster.url });
 * await cluster.restart('immediate'); // a crash and recovery, while the store is in use
 * await cluster.destroy();
 * ```
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PrivateCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth). */
  readonly url: string;
  readonly port: number;
  /** `pg_ctl restart`: `fast` disconnects sessions cleanly; `immediate` is a crash and a recovery. */
  restart(mode: 'fast' | 'immediate'): Promise<void>;
  /** `pg_ctl stop`; the cluster keeps its data and can be started again. */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** The server's log so far (for a failing test's message). */
  log(): string;
  /** Stops the server (immediate) and deletes every file of the cluster. */
  destroy(): Promise<void>;
}

/** The directory holding `initdb` and `pg_ctl`, or undefined when PostgreSQL is not installed. */
export function findPostgresBin(): string | undefined {
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  const fromEnv = process.env.OPENPIPES_PG_BIN;
  if (fromEnv) return has(fromEnv) ? fromEnv : undefined;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (has(join(root, v, 'bin'))) return join(root, v, 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && has(dir)) return dir;
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Running as root: every PostgreSQL binary runs as the `postgres` OS user. */
const asRoot = () => process.getuid?.() === 0;

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Creates and starts a cluster. Throws (with the tool's output) when it cannot. */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL server binaries (initdb, pg_ctl) not found; set OPENPIPES_PG_BIN');
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-pg-'));
  if (asRoot()) {
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();

  const command = (tool: string, args: string[]): [string, string[]] =>
    asRoot() ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
  const exec = async (tool: string, args: string[], timeoutMs = 60_000) => {
    const [file, argv] = command(tool, args);
    try {
      await run(file, argv, { timeout: timeoutMs, cwd: dir });
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`${tool} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  };
  // fsync=off: a killed server still recovers everything it acknowledged (the OS keeps the
  // written WAL); only a machine crash would lose it. synchronous_commit stays ON: with it off, an
  // immediate shutdown could lose acknowledged commits, and the tests must notice real losses.
  const serverOptions = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses='127.0.0.1'",
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=60',
  ].join(' ');
  const pgCtl = (action: string[]) =>
    exec('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', ...action]);

  await exec('initdb', [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'postgres',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  await pgCtl(['-o', serverOptions, 'start']);

  let running = true;
  // A test run that dies must not leave a server behind.
  const onExit = () => {
    if (!running) return;
    try {
      const [file, argv] = command('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      execFileSync(file, argv, { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);

  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async restart(mode) {
      await pgCtl(['-m', mode, '-o', serverOptions, 'restart']);
      running = true;
    },
    async stop(mode) {
      await pgCtl(['-m', mode, 'stop']);
      running = false;
    },
    async start() {
      await pgCtl(['-o', serverOptions, 'start']);
      running = true;
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    async destroy() {
      process.removeListener('exit', onExit);
      if (running) await pgCtl(['-m', 'immediate', 'stop']).catch(() => {});
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
