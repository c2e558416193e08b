// The console's first page: the JavaScript (and CSS) index.html loads before anything else
// (its <script src> and <link rel="modulepreload"> files; chunks loaded later, such as the code
// editor, are not counted), gzip-compressed. Budget: 150 KB of JavaScript. Needs a build
// (`npm run bench` builds first).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { consoleAssetsDir } from '@openpipes/console';

const dir = consoleAssetsDir();
const html = readFileSync(join(dir, 'index.html'), 'utf8');
const files = (kind) =>
  [
    ...html.matchAll(
      kind === 'js'
        ? /<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\.\/([^"]+)"/g
        : /<link[^>]*rel="stylesheet"[^>]*\shref="\.\/([^"]+)"/g,
    ),
  ].map((m) => m[1]);
const size = (names) => {
  let raw = 0;
  let gzip = 0;
  for (const name of names) {
    const body = readFileSync(join(dir, name));
    raw += body.length;
    gzip += gzipSync(body, { level: 9 }).length;
  }
  return { raw, gzip };
};
const js = size(files('js'));
const css = size(files('css'));
const budget = 150 * 1024;
// Loaded later, only by code pages.
const lazy = size(
  readdirSync(join(dir, 'assets'))
    .filter((f) => f.startsWith('editor-') && f.endsWith('.js'))
    .map((f) => `assets/${f}`),
);
console.log(
  JSON.stringify({
    bench: 'console',
    metric: 'first_page_js_gzip',
    value: js.gzip,
    unit: 'bytes',
    raw_bytes: js.raw,
    css_gzip_bytes: css.gzip,
    editor_chunk_gzip_bytes: lazy.gzip,
    budget_bytes: budget,
    within_budget: js.gzip <= budget,
  }),
);
if (js.gzip > budget) process.exit(1);
