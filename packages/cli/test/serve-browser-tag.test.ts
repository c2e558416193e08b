// `openpipes serve` serves the browser tag at /openpipes.js (docs/browser-tag.md), the built file
// of @openpipes/browser, so a site can load it from its own OpenPipes.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { startServe, stopAll } from './helpers.js';

describe('openpipes serve and the browser tag', () => {
  afterAll(() => stopAll());

  it('serves openpipes.js, the built tag, as JavaScript', async () => {
    const serve = await startServe();
    const response = await fetch(`${serve.url}/openpipes.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(response.headers.get('etag')).toMatch(/^"[\w-]{22}"$/);
    const built = createRequire(import.meta.url).resolve('@openpipes/browser/openpipes.js');
    expect(await response.text()).toBe(readFileSync(built, 'utf8'));
  });
});
