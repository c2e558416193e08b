/**
 * Serves the web console (`@openpipes/console`'s built files) under `<mount>/console/`:
 * content-hashed assets with long-lived cache headers, `index.html` (no-cache) for every other
 * console path so deep URLs survive a reload, and a strict Content-Security-Policy on all of it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { basePlaceholder, consoleAssetsDir } from '@openpipes/console';

/**
 * The console's Content-Security-Policy: its own scripts, styles and API only; no inline script,
 * no framing, no plugins.
 */
export const consoleCsp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const securityHeaders = {
  'content-security-policy': consoleCsp,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const mediaTypes: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  map: 'application/json; charset=utf-8',
};

interface Files {
  index: string;
  /** Every file under assets/, by name: only these names are ever served. */
  assets: Map<string, { body: Uint8Array; type: string }>;
}

/**
 * Answers requests under `<base>/console`. `path` is the request path relative to the base,
 * starting with `/console`; `base` is the mount prefix (`''` at the root).
 */
export type ConsoleServer = (method: string, path: string, base: string) => Promise<Response>;

/** Creates the console's file server; the files are read on first use and kept in memory (about 100 KB). */
export function createConsoleServer(directory: string = consoleAssetsDir()): ConsoleServer {
  let files: Promise<Files> | null = null;
  const load = async (): Promise<Files> => {
    const index = await readFile(join(directory, 'index.html'), 'utf8');
    const assets = new Map<string, { body: Uint8Array; type: string }>();
    for (const name of await readdir(join(directory, 'assets'))) {
      const type = mediaTypes[name.slice(name.lastIndexOf('.') + 1)];
      if (type) assets.set(name, { body: await readFile(join(directory, 'assets', name)), type });
    }
    return { index, assets };
  };

  return async (method, path, base) => {
    if (method !== 'GET' && method !== 'HEAD') {
      return new Response(
        JSON.stringify({
          error: { code: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on the console; use GET` },
        }),
        { status: 405, headers: { 'content-type': 'application/json; charset=utf-8', allow: 'GET, HEAD' } },
      );
    }
    const root = `${base}/console/`;
    if (path === '/console') {
      return new Response(null, { status: 308, headers: { location: root, ...securityHeaders } });
    }
    if (!files)
      files = load().catch((err) => {
        files = null;
        throw err;
      });
    const { index, assets } = await files;
    if (path.startsWith('/console/assets/')) {
      const asset = assets.get(path.slice('/console/assets/'.length));
      if (!asset) {
        return new Response('not found', {
          status: 404,
          headers: {
            'content-type': 'text/plain; charset=utf-8',
            'cache-control': 'no-cache',
            ...securityHeaders,
          },
        });
      }
      return new Response(asset.body, {
        status: 200,
        headers: {
          'content-type': asset.type,
          'cache-control': 'public, max-age=31536000, immutable',
          ...securityHeaders,
        },
      });
    }
    return new Response(index.replace(basePlaceholder, escapeAttribute(root)), {
      status: 200,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
        ...securityHeaders,
      },
    });
  };
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
