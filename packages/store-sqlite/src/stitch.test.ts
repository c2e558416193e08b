/**
 * Stitching a claimed batch on a real SQLite file (docs/identifiers.md, "Profiles in transforms"):
 * the cuts of issue 14 (findProfiles in one statement, offers deduped by a Set of JSON texts, stored
 * values parsed only when new, the owner picked by rank without a sort) must give what the transform
 * received before: each value once, the event's own first then the profile's newest first, nothing
 * the event's consent withholds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIdentity } from '@openpipes/core/identity';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

const dirs: string[] = [];
const stores: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const DAY = 86_400_000;
const START = Date.parse('2026-11-01T00:00:00.000Z');
const EMAIL_DIGEST = 'a'.repeat(64);

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'op-stitch-'));
  dirs.push(dir);
  const store = sqliteStore({ filename: join(dir, 'stitch.db') });
  stores.push(store);
  await store.migrate();
  let clock = START;
  let id = 0;
  const identity = createIdentity({ store, options: {}, now: () => clock, newId: () => `prf_${++id}` });
  const at = (ms: number) => {
    clock = ms;
    return new Date(ms).toISOString();
  };
  return { identity, at };
}

describe('stitching a batch on SQLite', () => {
  it('offers a value once however often the event and its profile carry it', async () => {
    const { identity, at } = await setup();
    await identity.link([
      { id: 'evt_1', event_time: at(START), event_payload: { user_id: 'U', hashed_email: EMAIL_DIGEST } },
    ]);
    // The same digest twice on the event (upper and lower case) and once on the profile.
    const event = {
      event_id: 'ord_1',
      event_type: 'purchase',
      event_time: at(START + DAY),
      event_payload: { user_id: 'U', hashed_email: [EMAIL_DIGEST.toUpperCase(), EMAIL_DIGEST] },
    };
    const out = await identity.stitch([event]);
    expect(out.ord_1?.id).toBe('prf_1');
    expect(out.ord_1?.identifiers).toEqual({ user_id: ['U'], email: [{ sha256: EMAIL_DIGEST }] });
  });

  it('offers the event’s own identifiers first, then the profile’s newest first, per event of the batch', async () => {
    const { identity, at } = await setup();
    await identity.link([
      { id: 'evt_1', event_time: at(START), event_payload: { user_id: 'U', anonymous_id: 'A1' } },
    ]);
    await identity.link([
      { id: 'evt_2', event_time: at(START + DAY), event_payload: { user_id: 'U', anonymous_id: 'A2' } },
    ]);
    await identity.link([{ id: 'evt_3', event_time: at(START + DAY), event_payload: { user_id: 'V' } }]);
    const out = await identity.stitch([
      {
        event_id: 'e1',
        event_type: 'purchase',
        event_time: at(START + 2 * DAY),
        event_payload: { user_id: 'U', anonymous_id: 'A3' },
      },
      {
        event_id: 'e2',
        event_type: 'purchase',
        event_time: at(START + 2 * DAY),
        event_payload: { anonymous_id: 'A1' },
      },
      {
        event_id: 'e3',
        event_type: 'purchase',
        event_time: at(START + 2 * DAY),
        event_payload: { user_id: 'V' },
      },
      {
        event_id: 'e4',
        event_type: 'purchase',
        event_time: at(START + 2 * DAY),
        event_payload: { user_id: 'nobody' },
      },
    ]);
    expect(out.e1?.identifiers).toEqual({ user_id: ['U'], anonymous_id: ['A3', 'A2', 'A1'] });
    expect(out.e2?.identifiers).toEqual({ anonymous_id: ['A1', 'A2'], user_id: ['U'] });
    expect([out.e1?.id, out.e2?.id, out.e3?.id, out.e4?.id]).toEqual(['prf_1', 'prf_1', 'prf_2', null]);
    expect(out.e4?.identifiers).toEqual({ user_id: ['nobody'] });
  });

  it('keeps out a profile’s identifier that the event’s consent withholds', async () => {
    const { identity, at } = await setup();
    await identity.link([
      { id: 'evt_1', event_time: at(START), event_payload: { user_id: 'U', fbp: `fb.1.${START}.123` } },
    ]);
    const out = await identity.stitch([
      {
        event_id: 'denied',
        event_type: 'purchase',
        event_time: at(START + DAY),
        event_payload: { user_id: 'U', consent: { ad_user_data: 'GRANTED', ad_storage: 'DENIED' } },
      },
      {
        event_id: 'granted',
        event_type: 'purchase',
        event_time: at(START + DAY),
        event_payload: { user_id: 'U' },
      },
    ]);
    expect(out.denied?.identifiers).toEqual({ user_id: ['U'] });
    expect(out.granted?.identifiers).toEqual({ user_id: ['U'], fbp: [`fb.1.${START}.123`] });
  });
});
