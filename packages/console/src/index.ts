/**
 * `@openpipes/console`: the web console, built at package build time (`vite build`) into static
 * files in `dist/app`: `index.html` and content-hashed scripts and styles under `assets/`. Nothing
 * is fetched from elsewhere at run time (no CDN, no fonts), so it works air-gapped.
 * `@openpipes/http` serves these files under `<mount>/console/` (`createHandler(pipes, { console: true })`).
 */
import { fileURLToPath } from 'node:url';

/**
 * The directory of the built console (`index.html` and `assets/`).
 *
 * @example
 * ```ts
 * import { consoleAssetsDir } from '@openpipes/console';
 * readFileSync(join(consoleAssetsDir(), 'index.html'), 'utf8');
 * ```
 */
export function consoleAssetsDir(): string {
  return fileURLToPath(new URL('./app/', import.meta.url));
}

/**
 * The placeholder in the built `index.html` that the server replaces with the console's own URL
 * path (`<mount>/console/`), as the `<base href>` every relative asset URL and route resolves from.
 */
export const basePlaceholder = '%OPENPIPES_CONSOLE_BASE%';
