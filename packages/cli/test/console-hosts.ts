/**
 * The hosts the console's browser suites run against, each a real process on a free loopback port
 * with a fresh SQLite file: `openpipes serve` (OpenPipes at the root, the console at `/console/`)
 * and the Express example (examples/express, a shop that mounts OpenPipes under `/openpipes`, the
 * console at `/openpipes/console/`). A suite runs once per host with
 * `describe.each(consoleHosts)('... ($name)', (kind) => ...)` and builds every URL from the host's
 * `url`, never from the root. `stopAll()` (helpers.ts) stops either.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childEnv, startServe, tempDir, track } from './helpers.js';

export interface ConsoleHost {
  /**
   * Where OpenPipes is mounted: the admin API is at `${url}/api`, collect at `${url}/collect/<slug>`,
   * the console at `${url}/console/`. `http://127.0.0.1:<port>`, or that plus `/openpipes`.
   */
  url: string;
  /** A key to sign in and call the admin API with (write scope at least). */
  token: string;
  /** How the console names whoever signs in with `token`, e.g. `admin (read, write and privacy)`. */
  who: string;
  /** A route of the host's own, outside the mount, that must keep answering 200; null: none. */
  ownRoute: string | null;
}

export interface ConsoleHostKind {
  name: string;
  /** Starts the host, empty (no source, no event type), letting send() reach `egressAllow`. */
  start(options: { egressAllow: string }): Promise<ConsoleHost>;
}

/** `openpipes serve` on SQLite, signed in with its admin token. */
export const serveHost: ConsoleHostKind = {
  name: 'openpipes serve',
  async start({ egressAllow }) {
    const serve = await startServe({ env: { OPENPIPES_EGRESS_ALLOW: egressAllow } });
    return { url: serve.url, token: serve.token, who: 'admin (read, write and privacy)', ownRoute: null };
  },
};

const example = fileURLToPath(new URL('../../../examples/express/server.mjs', import.meta.url));

/** The Express example with the console under `/openpipes`, signed in with the shop's API key. */
export const expressHost: ConsoleHostKind = {
  name: 'the Express example under /openpipes',
  start({ egressAllow }) {
    const token = 'express-console-key-3f9a1c7e';
    const child = spawn(process.execPath, [example], {
      // The example keeps its database in the working directory.
      cwd: tempDir('express-console'),
      env: childEnv({
        PORT: '0',
        OPENPIPES_API_KEY: token,
        OPENPIPES_EGRESS_ALLOW: egressAllow,
        OPENPIPES_SEED: 'false',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child);
    let output = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the Express example did not start:\n${output}`)),
        30_000,
      );
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const shop = /Shop on (http:\/\/\S+);/.exec(output)?.[1];
        if (shop && output.includes('The console:')) {
          clearTimeout(timer);
          resolve({
            url: `${shop}/openpipes`,
            token,
            who: 'shop-admin (read and write)',
            ownRoute: `${shop}/health`,
          });
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the Express example exited with ${code}:\n${output}`));
      });
    });
  },
};

/** Both hosts, for `describe.each`. */
export const consoleHosts: ConsoleHostKind[] = [serveHost, expressHost];

/** The console's URL for `path` (no leading slash): `${host.url}/console/${path}`. */
export const consoleUrl = (host: ConsoleHost, path = '') => `${host.url}/console/${path}`;

/** Matches exactly the console URL `${host.url}/console/` followed by `tail` (a pattern). */
export const consoleUrlPattern = (host: ConsoleHost, tail: string) =>
  new RegExp(`^${consoleUrl(host).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}${tail}$`);
