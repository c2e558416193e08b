import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox } from './pool.js';
import type { CodeRef } from './types.js';

// NETWORK RULE: no packet leaves. The resolver module answers every name; the guard refuses the
// private answer before a socket is opened, and the other names never resolve.
const resolverModule = `data:text/javascript,${encodeURIComponent(`
export default async function resolve(hostname) {
  if (hostname === 'internal.test') return [{ address: '10.0.0.7', family: 4 }];
  if (hostname === 'flaky.test') throw Object.assign(new Error('getaddrinfo EAI_AGAIN flaky.test'), { code: 'EAI_AGAIN' });
  throw Object.assign(new Error('getaddrinfo ENOTFOUND ' + hostname), { code: 'ENOTFOUND' });
}`)}`;

const sandboxes: Array<ReturnType<typeof createSandbox>> = [];
afterAll(() => Promise.all(sandboxes.map((s) => s.close())));

let version = 0;
const fetchOnce = (url: string): CodeRef => ({
  kind: 'send',
  owner: `dst_resolver_${++version}`,
  version: 1,
  code: `async function send() { await fetch(${JSON.stringify(url)}); }`,
});

describe('sandbox egress resolver module (SandboxOptions.egress.resolver)', () => {
  it('answers names from the module, still checks every answer, and classifies DNS failures', async () => {
    const sandbox = createSandbox({ workers: 1, egress: { resolver: resolverModule } });
    sandboxes.push(sandbox);
    const codes = async (url: string) => {
      const run = await sandbox.send({ code: fetchOnce(url), events: [], secrets: {} });
      return run.exchanges.map((e) => [e.error?.code, e.error?.message]);
    };
    expect(await codes('https://internal.test/')).toEqual([
      [
        'EGRESS_DENIED',
        expect.stringContaining('internal.test resolves to address 10.0.0.7 is a private address'),
      ],
    ]);
    expect(await codes('https://gone.test/')).toEqual([
      ['DNS_NOT_FOUND', 'could not resolve gone.test: the name does not exist (ENOTFOUND)'],
    ]);
    expect(await codes('https://flaky.test/')).toEqual([
      [
        'DNS',
        'could not resolve flaky.test: temporary DNS failure (EAI_AGAIN): getaddrinfo EAI_AGAIN flaky.test',
      ],
    ]);
  });

  it('says so when the module has no default export function', async () => {
    const sandbox = createSandbox({
      workers: 1,
      egress: { resolver: `data:text/javascript,${encodeURIComponent('export const resolve = 1;')}` },
    });
    sandboxes.push(sandbox);
    const run = await sandbox.send({ code: fetchOnce('https://any.test/'), events: [], secrets: {} });
    expect(run.exchanges[0]?.error).toMatchObject({
      code: 'DNS',
      message: expect.stringContaining('has no default export function'),
    });
  });
});
