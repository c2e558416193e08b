/**
 * `GET /openpipes.js`: the browser tag (`@openpipes/browser`'s built `openpipes.js`), so a site loads
 * it from its own OpenPipes (`<script src="https://shop.example/openpipes/openpipes.js">`) rather than
 * from a CDN. The URL carries no version, so the cache is a day, not a year; the ETag makes the
 * daily check a 304.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { defineRoute, noBody, type Route } from './route.js';

/** The built tag's path (the package's `./openpipes.js` export). */
export function browserTagFile(): string {
  return createRequire(import.meta.url).resolve('@openpipes/browser/openpipes.js');
}

/** A day: a new version reaches every visitor within a day of an upgrade. */
export const browserTagCacheControl = 'public, max-age=86400';

/**
 * The route. The file is read on first use and kept in memory (about 7 KB).
 *
 * @example
 * ```ts
 * createHandler(pipes, { browserTag: true }); // GET <mount>/openpipes.js
 * ```
 */
export function browserTagRoute(file: string = browserTagFile()): Route {
  let loaded: Promise<{ body: Uint8Array; etag: string }> | null = null;
  const load = async () => {
    const body = await readFile(file);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    return { body, etag };
  };
  return defineRoute({
    method: 'GET',
    path: '/openpipes.js',
    summary:
      'The browser tag (docs/browser-tag.md): a script that sets the global `openpipes` (init, track, consent). Cached a day, with an ETag.',
    tag: 'Collect',
    access: 'public',
    ignoresUnknownQuery: true,
    responses: {
      200: {
        description: 'The script.',
        schema: noBody,
        mediaTypes: { 'application/javascript': z.string() },
      },
      304: { description: 'The copy named by If-None-Match is current.', schema: noBody },
    },
    async handle({ request }) {
      if (!loaded)
        loaded = load().catch((err) => {
          loaded = null;
          throw err;
        });
      const { body, etag } = await loaded;
      const headers = {
        etag,
        'cache-control': browserTagCacheControl,
        // Any site may load it, including one that isolates itself (Cross-Origin-Embedder-Policy).
        'cross-origin-resource-policy': 'cross-origin',
        'access-control-allow-origin': '*',
        'x-content-type-options': 'nosniff',
      };
      const wanted = request.headers.get('if-none-match') ?? '';
      if (wanted.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*')) {
        return new Response(null, { status: 304, headers });
      }
      return new Response(body, {
        status: 200,
        headers: { ...headers, 'content-type': 'application/javascript; charset=utf-8' },
      });
    },
  });
}
