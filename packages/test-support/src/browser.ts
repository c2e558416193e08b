/**
 * Test support for browser tests (the browser tag's in `@openpipes/http`, the console's in
 * `@openpipes/cli`): Debian's Chromium (`apt-get install -y chromium`; never a downloaded browser)
 * driven by playwright-core, headless, with a fresh profile. Outside CI a missing Chromium skips the
 * browser tests with a message; under CI=true it fails them (.ci/run installs it).
 *
 * This package is private and has no build: `exports` points at this TypeScript file, which vitest
 * compiles and `tsc --noEmit` checks as the importing package's own source, so the tests of a
 * fresh clone run without building it first.
 *
 * @example
 * ```ts
 * import { type Browser, launchBrowser, skipBrowser } from '@openpipes/test-support/browser';
 *
 * describe.skipIf(skipBrowser)('in Chromium', () => {
 *   let browser: Browser;
 *   beforeAll(async () => { browser = await launchBrowser(); });
 *   afterAll(() => browser.close());
 * });
 * ```
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** Where Chromium is: `OPENPIPES_CHROMIUM`, else Debian's `/usr/bin/chromium`. */
export const chromiumPath = process.env.OPENPIPES_CHROMIUM ?? '/usr/bin/chromium';

/** True when the browser tests must be skipped: no Chromium, and not in CI. */
export const skipBrowser = !existsSync(chromiumPath) && process.env.CI !== 'true';
if (skipBrowser) {
  console.warn(`browser tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}

/** A launched Chromium: its persistent context, and `close` to end it and remove its profile. */
export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile directory (removed by `close`). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `no Chromium at ${chromiumPath}: apt-get install -y chromium (CI installs it in .ci/run)`,
    );
  }
  const profile = mkdtempSync(join(tmpdir(), 'openpipes-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
