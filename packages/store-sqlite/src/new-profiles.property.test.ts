/**
 * Differential check of identity's bulk path for new people (new-profiles.ts): events linked in one
 * `appendEvents` call, whose new people are found by one lookup made before any link is written,
 * must end in the same profiles and the same event index as the same events appended one call each.
 * Seeded random calls over a few identifiers of three kinds (user_id's cap of 1 refuses merges),
 * after a few earlier calls, so a call mixes new people, known ones, shared identifiers, merges,
 * refusals and an identifier twice in one event.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NewEvent, newId } from '@openpipes/core';
import { DEFAULT_CAPS, type IdentifierKind } from '@openpipes/core/identity';
import { seededRandom } from '@openpipes/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

type Ref = readonly [kind: IdentifierKind, key: string];
const t0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();

describe('new people linked in bulk (SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-new-profiles-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Appends `calls` (each a list of events' identifiers) to a new store; what identity kept. */
  const linked = async (file: string, calls: Ref[][][], universe: Ref[]) => {
    const store = sqliteStore({ filename: join(dir, file) });
    await store.migrate();
    // Events named by the order they were made, so the two runs compare.
    const names = new Map<string, string>();
    // Each event seen a second after the one before, whichever call carries it.
    let clock = 0;
    for (const call of calls) {
      const seen = call.map(() => (clock += 1000));
      const events: NewEvent[] = call.map(() => {
        const id = newId('event', t0 + clock);
        names.set(id, `E${names.size}`);
        return {
          id,
          event_id: id,
          sender_event_id: false,
          event_type: 't',
          event_time: at(0),
          event_payload: {},
        };
      });
      await store.appendEvents({
        sourceId: 'src_1',
        events,
        pipes: [],
        deliveryIds: [],
        dedupSince: null,
        now: at(clock),
        identity: {
          links: call.map((refs, n) => ({
            event_ref: events[n]!.id,
            identifiers: refs.map(([kind, key]) => ({
              kind,
              key,
              value: JSON.stringify(key),
              first_seen_at: at(seen[n]!),
            })),
            seen_at: at(seen[n]!),
          })),
          index: [],
          caps: DEFAULT_CAPS,
          newId: () => newId('profile', t0 + clock),
          now: at(clock),
        },
      });
    }
    const kept: string[] = [];
    for (const [kind, key] of universe) {
      const holders = await store.findProfiles({ identifiers: [{ kind, key }] });
      const events = await store.listPersonEvents({ identifiers: [{ kind, key }], limit: 100 });
      const people = holders.map((p) =>
        p.identifiers.map((i) => `${i.kind}:${i.key}@${i.last_seen_at}`).sort(),
      );
      const named = events.map((e) => names.get(e.event_ref)).sort();
      kept.push(`${kind}:${key} held by ${JSON.stringify(people)}, events ${named.join(',')}`);
    }
    await store.close();
    return kept;
  };

  it('one call links as one call per event', async () => {
    const { random, pick } = seededRandom(16);
    const kinds: IdentifierKind[] = ['anonymous_id', 'user_id', 'email'];
    for (let round = 0; round < 60; round++) {
      const universe: Ref[] = Array.from({ length: 16 }, (_, i) => [kinds[i % 3]!, `k${i}`]);
      const event = () => Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(universe));
      const before = Array.from({ length: Math.floor(random() * 4) }, () => [event()]);
      const call = Array.from({ length: 2 + Math.floor(random() * 12) }, event);
      const together = await linked(`one-${round}.db`, [...before, call], universe);
      const apart = await linked(`each-${round}.db`, [...before, ...call.map((e) => [e])], universe);
      expect(together, JSON.stringify({ before, call })).toEqual(apart);
    }
  });
});
