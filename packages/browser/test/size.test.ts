// The built tag (dist/openpipes.js, made by `npm run build`, which `npm test` runs first): what the
// server serves at <mount>/openpipes.js must stay small and be a plain script with the global API.
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const file = new URL('../dist/openpipes.js', import.meta.url);

describe('the built openpipes.js', () => {
  const code = readFileSync(file);

  it('is under 5 KB gzipped', () => {
    const gzipped = gzipSync(code, { level: 9 }).byteLength;
    expect(gzipped).toBeLessThan(5 * 1024);
  });

  it('is a classic script that sets the global openpipes with the API and imports nothing', () => {
    const text = code.toString('utf8');
    expect(text).not.toMatch(/\bimport\s*[({'"]|\bexport\s|\brequire\(/);
    expect(text).not.toContain('sourceMappingURL');
    const sandbox: { openpipes?: Record<string, unknown> } = {};
    runInNewContext(text, sandbox);
    expect(Object.keys(sandbox.openpipes ?? {}).sort()).toEqual([
      'consent',
      'flush',
      'getAnonymousId',
      'init',
      'track',
    ]);
  });
});
