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

describe('stitching a batch: what each profile offers is worked out per call', () => {
  it('offers only identifiers within their window, the event’s own and its profile’s alike', async () => {
    const { identity, at } = await setup();
    // fbc (90 days) first seen at START; fbp (90 days) and anonymous id (no window) at START + 95 days.
    await identity.link([
      { id: 'evt_1', event_time: at(START), event_payload: { user_id: 'U', fbc: `fb.1.${START}.old` } },
    ]);
    await identity.link([
      {
        id: 'evt_2',
        event_time: at(START + 95 * DAY),
        event_payload: { user_id: 'U', fbp: 'fb.1.1.new', anonymous_id: 'A' },
      },
    ]);
    const when = at(START + 100 * DAY);
    const out = await identity.stitch([
      { event_id: 'a', event_type: 'purchase', event_time: when, event_payload: { user_id: 'U' } },
      {
        event_id: 'b',
        event_type: 'purchase',
        event_time: when,
        // Its own cookie says the click was 100 days ago: too old to offer, like the profile's.
        event_payload: { anonymous_id: 'A', cookies: { _fbc: `fb.1.${START}.mine` } },
      },
    ]);
    expect(out.a?.identifiers).toEqual({ user_id: ['U'], fbp: ['fb.1.1.new'], anonymous_id: ['A'] });
    expect(out.b?.identifiers).toEqual({ anonymous_id: ['A'], user_id: ['U'], fbp: ['fb.1.1.new'] });
  });

  it('gives each event its own values: one event carrying a value takes nothing from another’s', async () => {
    const { identity, at } = await setup();
    await identity.link([
      { id: 'evt_1', event_time: at(START), event_payload: { user_id: 'U', hashed_email: EMAIL_DIGEST } },
    ]);
    const when = at(START + DAY);
    const out = await identity.stitch([
      {
        event_id: 'a',
        event_type: 'purchase',
        event_time: when,
        event_payload: { user_id: 'U', hashed_email: EMAIL_DIGEST },
      },
      { event_id: 'b', event_type: 'purchase', event_time: when, event_payload: { user_id: 'U' } },
      { event_id: 'c', event_type: 'purchase', event_time: when, event_payload: { user_id: 'U' } },
    ]);
    for (const e of ['a', 'b', 'c'])
      expect(out[e]?.identifiers).toEqual({ user_id: ['U'], email: [{ sha256: EMAIL_DIGEST }] });
    // Parsed per event: changing one event's profile changes no other's.
    expect(out.b?.identifiers.email?.[0]).not.toBe(out.c?.identifiers.email?.[0]);
  });

  it('hands each event a profile of its own: changing one event’s changes no other’s, nor the next call’s', async () => {
    const { identity, at } = await setup();
    await identity.link([
      {
        id: 'evt_1',
        event_time: at(START),
        event_payload: { user_id: 'U', hashed_email: EMAIL_DIGEST, anonymous_id: 'A' },
      },
    ]);
    const when = at(START + DAY);
    const batch = () =>
      ['a', 'b', 'c'].map((event_id) => ({
        event_id,
        event_type: 'purchase',
        event_time: when,
        event_payload: { user_id: 'U' },
      }));
    const expected = { user_id: ['U'], email: [{ sha256: EMAIL_DIGEST }], anonymous_id: ['A'] };
    const out = await identity.stitch(batch());
    // What a host resolver or transform might do to the profile it was given.
    const a = out.a!;
    a.identifiers.user_id!.push('X');
    a.identifiers.anonymous_id!.splice(0);
    (a.identifiers.email![0] as Record<string, string>).sha256 = 'changed';
    delete a.identifiers.email;
    a.ip = 'changed';
    for (const e of ['b', 'c']) expect(out[e]?.identifiers).toEqual(expected);
    const again = await identity.stitch(batch());
    for (const e of ['a', 'b', 'c']) expect(again[e]?.identifiers).toEqual(expected);
    expect(again.a?.ip).toBeNull();
  });

  it('reads the profiles afresh on every call: a merge, a prune and a consent change show at once', async () => {
    const { identity, at } = await setup();
    await identity.link([
      { id: 'evt_1', event_time: at(START), event_payload: { user_id: 'U', anonymous_id: 'A1' } },
    ]);
    await identity.link([
      { id: 'evt_2', event_time: at(START), event_payload: { anonymous_id: 'A2', fbp: 'fb.1.1.x' } },
    ]);
    const purchase = (payload: Record<string, unknown>) => ({
      event_id: 'p',
      event_type: 'purchase',
      event_time: at(START + DAY),
      event_payload: payload,
    });
    const before = await identity.stitch([purchase({ user_id: 'U' })]);
    expect(before.p).toMatchObject({ id: 'prf_1', identifiers: { user_id: ['U'], anonymous_id: ['A1'] } });
    // A2's profile merges into U's.
    await identity.link([
      { id: 'evt_3', event_time: at(START + DAY), event_payload: { anonymous_id: 'A1', fbp: 'fb.1.1.x' } },
    ]);
    const merged = await identity.stitch([purchase({ user_id: 'U' })]);
    expect(merged.p?.id).toBe('prf_1');
    expect(merged.p?.identifiers).toEqual({
      user_id: ['U'],
      anonymous_id: ['A1', 'A2'],
      fbp: ['fb.1.1.x'],
    });
    const denied = await identity.stitch([
      purchase({ user_id: 'U', consent: { ad_storage: 'denied' } }),
      { ...purchase({ user_id: 'U' }), event_id: 'q' },
    ]);
    expect(denied.p?.identifiers).toEqual({ user_id: ['U'], anonymous_id: ['A1', 'A2'] });
    expect(denied.q?.identifiers.fbp).toEqual(['fb.1.1.x']);
    // Past retention (90 days after last seen) the profile is pruned: the next stitch finds none.
    at(START + 200 * DAY);
    expect(await identity.prune(10)).toBeGreaterThan(0);
    const pruned = await identity.stitch([purchase({ user_id: 'U' })]);
    expect(pruned.p).toMatchObject({ id: null, identifiers: { user_id: ['U'] } });
  });
});
