/**
 * Which pages may make collect set a cookie for a parent domain (docs/browser-tag.md, first-party
 * cookies). `Domain=<parent>` reaches every host under that parent, so only a page whose origin the
 * operator named in the source's `allowed_origins` gets one. A source open to any origin (an empty
 * list, or `*`) would otherwise let any sibling host — another tenant of a shared platform domain
 * (`tenant-b.platform.test` beside `t.platform.test`) — plant its chosen `_fbc`, `_fbp` and
 * anonymous id in every visitor's cookies for all of `platform.test`.
 */
import type { Pipes } from '@openpipes/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

const fbp = 'fb.1.1714816462000.1234567890';

describe('first-party cookies for a parent domain', () => {
  let engine: SqliteEngine;
  let pipes: Pipes;
  let handler: (request: Request) => Promise<Response>;

  beforeAll(async () => {
    engine = await startSqliteEngine('cookie-domain', {}, { start: false });
    pipes = engine.pipes;
    await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object' } });
    await pipes.sources.create({ name: 'Open', slug: 'open', first_party_cookies: true });
    await pipes.sources.create({
      name: 'Star',
      slug: 'star',
      first_party_cookies: true,
      allowed_origins: ['*'],
    });
    await pipes.sources.create({
      name: 'Named',
      slug: 'named',
      first_party_cookies: true,
      allowed_origins: ['https://www.platform.test', 'https://*.shop.platform.test'],
    });
    handler = createHandler(pipes);
  });
  afterAll(() => engine.stop());

  const send = async (slug: string, origin: string) => {
    const response = await handler(
      new Request(`https://t.platform.test/collect/${slug}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain;charset=UTF-8', origin },
        body: JSON.stringify({
          event_type: 'purchase',
          event_time: Date.now(),
          event_payload: { fbp, consent: { ad_storage: 'GRANTED' } },
        }),
      }),
    );
    expect(response.status).toBe(202);
    return response.headers.getSetCookie();
  };

  it('sets none for a sibling host the source merely lets send (no allowed_origins, or *)', async () => {
    expect(await send('open', 'https://tenant-b.platform.test')).toEqual([]);
    expect(await send('star', 'https://tenant-b.platform.test')).toEqual([]);
  });

  it('sets them for the parent domain when the operator named the page origin, exactly or by a wildcard', async () => {
    expect(await send('named', 'https://www.platform.test')).toEqual([
      `_fbp=${fbp}; Max-Age=7776000; Path=/; SameSite=Lax; Domain=platform.test; Secure`,
    ]);
    expect(await send('named', 'https://eu.shop.platform.test')).toEqual([
      `_fbp=${fbp}; Max-Age=7776000; Path=/; SameSite=Lax; Domain=platform.test; Secure`,
    ]);
  });

  it('still sets host cookies for a page on the collect host itself, whatever the list', async () => {
    expect(await send('open', 'https://t.platform.test')).toEqual([
      `_fbp=${fbp}; Max-Age=7776000; Path=/; SameSite=Lax; Secure`,
    ]);
  });
});
