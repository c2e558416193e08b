// A person's export (`GET /api/profiles/{id}/export`, docs/erasure.md) is bounded in bytes, not only
// in events: anyone may send big events under one anonymous id, and a read key's export of that
// profile would otherwise gather all of them in memory at once. Past the budget the answer is cut
// (oldest first) and says `truncated`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, type Pipes } from '@openpipes/core';
import { createErasureApi } from '@openpipes/core/identity';
import { testSecretKey } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

describe('a person export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-export-bound-'));
  let pipes: Pipes;
  let profileId: string;

  beforeAll(async () => {
    pipes = createPipes({
      store: sqliteStore({ filename: join(dir, 'db.sqlite') }),
      secretKey: testSecretKey,
      sandbox: { workers: 1 },
      identity: true,
    });
    await pipes.sources.create({ name: 'Web', slug: 'web' });
    await pipes.eventTypes.create({ name: 'page_view', schema: { type: 'object' } });
    const at = new Date().toISOString();
    await pipes.ingest(
      'web',
      Array.from({ length: 10 }, (_, i) => ({
        event_type: 'page_view',
        event_id: `big-${i}`,
        event_time: at,
        event_payload: { anonymous_id: 'anon-shared-by-a-bot', filler: 'x'.repeat(5_000) },
      })),
    );
    const [profile] = await pipes.profiles.search({ identifiers: { anonymous_id: 'anon-shared-by-a-bot' } });
    profileId = profile!.id;
  });
  afterAll(async () => {
    await pipes.stop({ graceMs: 500 });
    await pipes.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every event under the byte budget, and cuts at it with truncated past it', async () => {
    const whole = await pipes.profiles.export(profileId);
    expect(whole.events).toHaveLength(10);
    expect(whole.truncated).toBe(false);

    const bounded = createErasureApi({
      store: pipes.store,
      now: Date.now,
      getDelivery: (id) => pipes.deliveries.get(id),
      secretKey: testSecretKey,
      exportMaxBytes: 20_000,
    });
    const cut = await bounded.export(profileId);
    expect(cut.truncated).toBe(true);
    expect(cut.events.length).toBeGreaterThan(0);
    expect(cut.events.length).toBeLessThan(10);
    expect(JSON.stringify(cut.events).length).toBeLessThanOrEqual(20_000);
    expect(cut.events.map((e) => e.event_id)).toEqual(
      whole.events.slice(0, cut.events.length).map((e) => e.event_id),
    );
  });
});
