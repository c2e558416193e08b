/**
 * The vetted modules guest code may `require`/`import` (docs/sandbox.md, "Vetted modules"): the
 * bundles `modules/build-modules.mjs` wrote beside the built worker (read once, on first use), and
 * the host-backed ones whose exports the worker's host functions provide.
 */
import { readFileSync } from 'node:fs';
import type { ModuleProvider } from './context/host-bridge.js';

interface ManifestEntry {
  file: string;
  version: string;
  exports: string[];
  package: string;
}
const modulesDir = new URL('./modules/', import.meta.url);
let manifest: Record<string, ManifestEntry> | undefined;
function loadManifest(): Record<string, ManifestEntry> {
  if (!manifest) {
    try {
      manifest = JSON.parse(readFileSync(new URL('manifest.json', modulesDir), 'utf8')) as Record<
        string,
        ManifestEntry
      >;
    } catch {
      manifest = {};
    }
  }
  return manifest;
}
const HOST_BACKED: Record<string, string[]> = {
  '@openpipes/crypto': ['sha256Hex', 'hmacSha256Hex'],
  '@openpipes/jwt': ['sign', 'verify', 'decode'],
  '@openpipes/phone': ['toE164'],
  crypto: ['createHash', 'createHmac', 'randomUUID', 'getRandomValues'],
};
const sources = new Map<string, string>();
const canonical = (name: string) => (name.startsWith('node:') ? name.slice(5) : name);
export const vettedModules: ModuleProvider = {
  names: () => [...Object.keys(loadManifest()), ...Object.keys(HOST_BACKED)].sort(),
  source(name) {
    const entry = loadManifest()[canonical(name)];
    if (!entry) return undefined;
    let src = sources.get(entry.file);
    if (src === undefined) {
      src = readFileSync(new URL(entry.file, modulesDir), 'utf8');
      sources.set(entry.file, src);
    }
    return src;
  },
  esmFacade(name) {
    const key = canonical(name);
    const exports = loadManifest()[key]?.exports ?? HOST_BACKED[key];
    if (!exports) return undefined;
    const named = exports.filter((e) => e !== 'default' && /^[A-Za-z_$][\w$]*$/.test(e));
    return [
      `const m = globalThis.__openpipes_require(${JSON.stringify(key)});`,
      `export default (m && m.__esModule && 'default' in m) ? m.default : m;`,
      named.length ? `export const { ${named.join(', ')} } = m;` : '',
    ].join('\n');
  },
};
