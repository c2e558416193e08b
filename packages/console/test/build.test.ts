// The built console (dist/app, made by `npm run build`): what the server and the CSP rely on.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { basePlaceholder } from '../src/index.js';

describe('the built console', () => {
  // The built files (`npm test` builds first); typechecking needs no build, so not the package's own entry.
  const dir = fileURLToPath(new URL('../dist/app/', import.meta.url));
  const html = readFileSync(join(dir, 'index.html'), 'utf8');

  it('has a <base href> for the server to fill in, and only relative asset URLs that exist', () => {
    expect(html).toContain(`<base href="${basePlaceholder}" />`);
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)]
      .map((m) => m[1]!)
      .filter((u) => u !== basePlaceholder);
    expect(urls.length).toBeGreaterThanOrEqual(2);
    for (const url of urls) {
      expect(url).toMatch(/^\.\/assets\/[\w.-]+-[\w-]{8}\.(js|css)$/);
      expect(existsSync(join(dir, url))).toBe(true);
    }
  });

  it('has no inline script or style and loads nothing from elsewhere', () => {
    expect(html.match(/<script[^>]*>/g)?.every((tag) => / src="\.\//.test(tag))).toBe(true);
    expect(html).not.toMatch(/<style|\sstyle=|\son\w+=/i);
    expect(html).not.toMatch(/https?:\/\//);
  });
});
