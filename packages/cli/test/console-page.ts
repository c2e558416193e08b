/**
 * Test support for the console's browser tests: a page that records what a test must check
 * afterwards (console lines, CSP violations, page errors, the body of every answer), and the
 * sign-in every test starts with, and axe-core's serious violations. Works for any mount: pass the
 * console's URL.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser } from '@openpipes/test-support/browser';
import type { Page } from 'playwright-core';

export interface RecordedPage {
  page: Page;
  /** `type: text` of every console line, `pageerror: message` of every uncaught error. */
  messages: string[];
  /** The bodies of every answer the page received (redirects left out: they have none). */
  bodies: Promise<string>[];
}

/** A new page that records every console message, page error and answer body. */
export async function openRecordedPage(browser: Browser): Promise<RecordedPage> {
  const page = await browser.context.newPage();
  const messages: string[] = [];
  const bodies: Promise<string>[] = [];
  // Every CSP violation, with where it came from, as a console line the test can read.
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => {
      console.log('csp-violation ' + e.violatedDirective + ' ' + e.sourceFile + ':' + e.lineNumber);
    });`,
  });
  page.on('console', (message) => messages.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => messages.push(`pageerror: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() < 300 || response.status() >= 400) bodies.push(response.text().catch(() => ''));
  });
  return { page, messages, bodies };
}

/** Opens `consoleUrl` (ending in `/console/`), signs in with `token`, and waits for the navigation. */
export async function signIn(page: Page, consoleUrl: string, token: string) {
  const answer = await page.goto(consoleUrl);
  await page.getByLabel('API key or admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Console' }).waitFor();
  return answer!;
}

/**
 * The messages that mean the CSP was violated or the app threw. `afterTyping`: the page typed in
 * the code editor, where Chromium reports one blocked style attribute with no source (style-src-attr,
 * from no script of ours; see console-browser.test.ts), left out here; any other violation stays.
 */
export function problems(messages: string[], options: { afterTyping?: boolean } = {}): string[] {
  return messages
    .filter((m) => /Content.Security.Policy|Refused to|csp-violation|pageerror/i.test(m))
    .filter(
      (m) =>
        !options.afterTyping ||
        !(
          /^csp-violation style-src-attr :0$/.test(m.replace(/^log: /, '')) ||
          /^error: Applying inline style violates/.test(m)
        ),
    );
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/** axe-core's serious and critical violations on the page as it is now, one line each. */
export async function seriousViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(axeSource);
  const violations = (await page.evaluate(
    'window.axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)',
  )) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.map((n) => JSON.stringify(n.target)).join(' ')}`);
}
