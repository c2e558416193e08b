/**
 * Store conformance: a data subject's erasure and export (`listPersonEvents`, `eraseProfiles`,
 * docs/erasure.md). Events are tied to a person through the identifiers `linkProfiles` indexed under
 * each event, whatever profile holds them now.
 */
import { describe, expect, it } from 'vitest';
import { erasedEventIdDigest } from '../../identity/erasure.js';
import { DEFAULT_CAPS } from '../../identity/profiles.js';
import { newId } from '../../ids.js';
import type { IdentifierRef, NewEvent } from '../../store.js';
import { erasureAudit } from '../../testing/helpers.js';
import { at, newEvent, outcome, type StoreCases, t0 } from './fixtures.js';

const EMAIL_DIGEST = 'e'.repeat(64);
const GOOGLE_DIGEST = 'f'.repeat(64);
const email: IdentifierRef = { kind: 'email', key: EMAIL_DIGEST };
/** The keyed digest the engine passes (`erasedEventIdDigest`), keyed by a test key. */
const digest = erasedEventIdDigest('conformance-secret-key-0123456789');

// long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
export function erasureCases(t: StoreCases): void {
  describe('erasure and export', () => {
    let clock = 0;
    const pipe = { pipe_id: newId('pipe', t0), destination_id: newId('destination', t0) };
    const sourceId = newId('source', t0);

    /** Appends events (one delivery each, to `pipe`) and links each one's identifiers under it. */
    const ingest = async (events: Array<{ event: NewEvent; ids: IdentifierRef[] }>) => {
      await t.store.appendEvents({
        sourceId,
        events: events.map((e) => e.event),
        pipes: [pipe],
        deliveryIds: events.map(() => newId('delivery', t0)),
        dedupSince: null,
        now: at(0),
      });
      await t.store.linkProfiles({
        links: events.map(({ event, ids }) => ({
          event_ref: event.id,
          identifiers: ids.map((i) => ({
            ...i,
            value: JSON.stringify(
              i.kind === 'email' ? { sha256: i.key, sha256_google: GOOGLE_DIGEST } : i.key,
            ),
            first_seen_at: at(0),
          })),
          seen_at: at(clock++),
        })),
        caps: DEFAULT_CAPS,
        newId: () => newId('profile', t0 + clock++),
        now: at(0),
      });
    };
    const erase = (identifiers: IdentifierRef[], given: string[] = []) =>
      t.store.eraseProfiles({
        identifiers,
        given,
        eventIdDigest: digest,
        now: at(5000),
        audit: erasureAudit(newId('audit', t0 + 5000), at(5000)),
      });
    const deliveryOf = async (eventRef: string) => {
      const rows = await t.store.listDeliveries({ pipeId: pipe.pipe_id, limit: 100 });
      const row = rows.find((r) => r.event_ref === eventRef);
      expect(row).toBeDefined();
      return (await t.store.getDelivery({ id: row!.id }))!;
    };
    /** Claims `pipe`'s deliveries and files each as filtered with `reasons[its event ref]`. */
    const filterWith = async (reasons: Record<string, string>) => {
      const claimed = await t.claimFor(pipe, 'w1', at(10));
      await t.store.completeDeliveries({
        owner: 'w1',
        outcomes: claimed.map((d) => outcome(d, 'filtered', { filter_reason: reasons[d.event_ref] ?? null })),
        now: at(20),
      });
    };
    /** A rejection of the event text `text` (as collect refuses one that fails validation). */
    const rejection = (text: string) => ({
      id: newId('rejection', t0 + clock++),
      error: { code: 'VALIDATION_FAILED', message: 'bad', issues: [] },
      event: text,
      truncated: false,
    });

    it('finds a person’s events by any identifier, including those before the link', async () => {
      // The page view arrives under the anonymous id alone; the login then links it to the email.
      const pageView = {
        event: newEvent('pv-1', { anonymous_id: 'anon-jane' }),
        ids: [{ kind: 'anonymous_id', key: 'anon-jane' } as IdentifierRef],
      };
      const login = {
        event: newEvent('login-1', { anonymous_id: 'anon-jane' }),
        ids: [{ kind: 'anonymous_id', key: 'anon-jane' } as IdentifierRef, email],
      };
      const other = {
        event: newEvent('pv-2', { anonymous_id: 'anon-bob' }),
        ids: [{ kind: 'anonymous_id', key: 'anon-bob' } as IdentifierRef],
      };
      await ingest([pageView, login, other]);
      const [profile] = await t.store.findProfiles({ identifiers: [email] });
      const refs = profile!.identifiers.map((i) => ({ kind: i.kind, key: i.key }));
      const tied = await t.store.listPersonEvents({ identifiers: refs, limit: 10 });
      expect(tied.map((e) => e.event_ref)).toEqual([pageView.event.id, login.event.id].sort());
      expect(tied.every((e) => e.delivery_ids.length === 1)).toBe(true);
      expect(await t.store.listPersonEvents({ identifiers: refs, limit: 1 })).toHaveLength(1);
    });

    it('erases the person’s profiles, events and payloads, keeps tombstones, and leaves another person', async () => {
      const anon = { kind: 'anonymous_id', key: 'anon-jane' } as IdentifierRef;
      const bob = { kind: 'anonymous_id', key: 'anon-bob' } as IdentifierRef;
      const pageView = { event: newEvent('pv-1', { anonymous_id: 'anon-jane' }), ids: [anon] };
      const purchase = { event: newEvent('ord-1', { email: 'jane' }), ids: [email] };
      const others = { event: newEvent('ord-2', { anonymous_id: 'anon-bob' }), ids: [bob] };
      await ingest([pageView, purchase, others]);
      await ingest([{ event: newEvent('login-1', {}), ids: [anon, email] }]);
      // Both purchases leave and are recorded with their payloads.
      const claimed = await t.claimFor(pipe, 'w1', at(10));
      await t.store.completeDeliveries({
        owner: 'w1',
        outcomes: claimed.map((d) => outcome(d, 'delivered')),
        now: at(20),
      });

      const result = await erase([email]);
      expect(result).toMatchObject({
        events: 3,
        deliveries: 3,
        cancelled: 0,
        attempts: 3,
        identifiers: 2,
        profiles: 2,
        compacted: true,
      });
      expect(await t.store.getEvent({ id: pageView.event.id })).toBeNull();
      expect(await t.store.getEvent({ id: purchase.event.id })).toBeNull();
      expect(await t.store.findProfiles({ identifiers: [email, anon] })).toEqual([]);
      for (const id of result.profile_ids) expect(await t.store.getProfile({ id })).toBeNull();
      expect(await t.store.listPersonEvents({ identifiers: [email, anon], limit: 10 })).toEqual([]);

      const tombstone = await deliveryOf(purchase.event.id);
      // The sender's event id (an order number, personal) is kept only as a keyed digest.
      expect(tombstone.row).toMatchObject({
        status: 'delivered',
        event_id: digest('ord-1'),
        attempt_count: 1,
      });
      expect(tombstone.row.event_id).toMatch(/^erased:[0-9a-f]{64}$/);
      const [found] = await t.store.listDeliveries({
        pipeId: pipe.pipe_id,
        eventId: digest('ord-1'),
        limit: 10,
      });
      expect(found?.id).toBe(tombstone.row.id);
      expect(await t.store.listDeliveries({ pipeId: pipe.pipe_id, eventId: 'ord-1', limit: 10 })).toEqual([]);
      expect(tombstone.row.detail).toEqual({
        output: null,
        request: null,
        response: null,
        error: null,
        erased_at: at(5000),
      });
      expect(tombstone.attempts).toHaveLength(1);
      expect(tombstone.attempts[0]).toMatchObject({
        number: 1,
        status: 'delivered',
        request: null,
        response: null,
      });

      // The other person is untouched.
      expect(await t.store.getEvent({ id: others.event.id })).not.toBeNull();
      const kept = await deliveryOf(others.event.id);
      expect(kept.row.event_id).toBe('ord-2');
      expect(kept.row.detail.output).toEqual([{ event_type: 'purchase' }]);
      expect(kept.attempts[0]?.request).not.toBeNull();
      expect(await t.store.findProfiles({ identifiers: [bob] })).toHaveLength(1);

      // Audited with the actor; counts and profile ids only.
      const [entry] = await t.store.listAudit({ actor: 'dpo', limit: 10 });
      expect(entry).toMatchObject({ action: 'erase', entity_kind: 'profile' });
      expect(JSON.stringify(entry)).not.toContain(EMAIL_DIGEST);
      expect(JSON.stringify(entry)).not.toContain('anon-jane');
      // A replay cannot bring an erased record back.
      expect(
        await t.store.requeueDeliveries({
          pipeId: pipe.pipe_id,
          statuses: ['delivered'],
          now: at(6000),
          limit: 10,
        }),
      ).toEqual([claimed.find((d) => d.event_ref === others.event.id)!.id]);
    });

    it('lists a tombstone by its digest, beside live events whose own ids start with erased: or are that digest', async () => {
      const mine = { event: newEvent('ord-1', {}), ids: [email] };
      const lookalike = { event: newEvent('erased:ord-1', {}), ids: [] };
      const copycat = { event: newEvent(digest('ord-1'), {}), ids: [] };
      await ingest([mine, lookalike, copycat]);
      await erase([email]);
      const listed = async (eventId: string) =>
        (await t.store.listDeliveries({ eventId, limit: 10 })).map((r) => r.event_ref);
      // The tombstone and the live event whose sender sent that very digest, each once.
      expect((await listed(digest('ord-1'))).sort()).toEqual([mine.event.id, copycat.event.id].sort());
      expect(await listed('erased:ord-1')).toEqual([lookalike.event.id]);
      expect(await listed('ord-1')).toEqual([]);
      expect(await listed(digest('erased:ord-1'))).toEqual([]);
      const page = await t.store.listDeliveries({ eventId: digest('ord-1'), limit: 1 });
      const rest = await t.store.listDeliveries({ eventId: digest('ord-1'), cursor: page[0]!.id, limit: 1 });
      expect([...page, ...rest].map((r) => r.event_ref).sort()).toEqual(
        [mine.event.id, copycat.event.id].sort(),
      );
      expect(
        await t.store.listDeliveries({ eventId: digest('ord-1'), pipeId: 'pipe_other', limit: 10 }),
      ).toEqual([]);
    });

    it('stops what has not left: pending, retrying and in flight are never claimed again; a late outcome is lost', async () => {
      const events = ['a', 'b', 'c'].map((id) => ({ event: newEvent(`ord-${id}`, {}), ids: [email] }));
      await ingest(events);
      const [first, second] = await t.claimFor(pipe, 'w1', at(10), { limit: 2 });
      await t.store.completeDeliveries({
        owner: 'w1',
        outcomes: [outcome(first!, 'retrying', { next_attempt_at: at(100) })],
        now: at(20),
      });
      // `second` is still claimed by w1 (in flight); the third is pending.
      const result = await erase([email]);
      expect(result).toMatchObject({ events: 3, deliveries: 3, cancelled: 3 });

      expect(await t.claimFor(pipe, 'w2', at(120_000))).toEqual([]);
      const late = await t.store.completeDeliveries({
        owner: 'w1',
        outcomes: [outcome(second!, 'retrying', { next_attempt_at: at(200) })],
        now: at(30),
      });
      expect(late).toEqual({ applied: [], lost: [second!.id] });
      expect(await t.store.extendLeases({ owner: 'w1', ids: [second!.id], until: at(90_000) })).toBe(0);
      await t.store.releaseDeliveries({ owner: 'w1', ids: [second!.id], now: at(40) });
      expect(await t.claimFor(pipe, 'w2', at(200_000))).toEqual([]);
      for (const e of events) {
        const d = await deliveryOf(e.event.id);
        expect(d.row).toMatchObject({ status: 'filtered', filter_reason: 'erased', lease_owner: null });
        expect(d.row.detail.erased_at).toBe(at(5000));
      }
      expect((await t.store.backlog()).filter((b) => b.destination_id === pipe.destination_id)).toEqual([]);
      expect(await t.store.nextRetryAt({ destinationId: pipe.destination_id })).toBeNull();
      // Counted once each, as the tombstones they are now: none left live.
      const stats = (await t.store.deliveryStats()).filter((r) => r.pipe_id === pipe.pipe_id);
      expect(stats.map((r) => [r.status, r.count])).toEqual([['filtered', 3]]);
    });

    it('replaces a filter reason that quotes the person in a tombstone, and keeps one that does not', async () => {
      // A transform may give its reason with an identifier in it ({ filter_reason: 'staff:' + user_id }).
      const userId = { kind: 'user_id', key: 'u-jane-4711' } as IdentifierRef;
      const quoted = { event: newEvent('ord-q', {}), ids: [userId] };
      const plain = { event: newEvent('ord-p', {}), ids: [userId] };
      await ingest([quoted, plain]);
      await filterWith({ [quoted.event.id]: 'staff:u-jane-4711', [plain.event.id]: 'no_click_id' });
      expect(await erase([userId])).toMatchObject({ events: 2, deliveries: 2 });
      expect((await deliveryOf(quoted.event.id)).row).toMatchObject({
        status: 'filtered',
        filter_reason: 'erased',
      });
      expect((await deliveryOf(plain.event.id)).row.filter_reason).toBe('no_click_id');
    });

    it('deletes rejections and scrubs state documents that quote the person', async () => {
      await ingest([{ event: newEvent('ord-1', {}), ids: [email] }]);
      await t.store.appendRejections({
        sourceId,
        rejections: [
          rejection('{"email":"Jane@Example.test","value":"x"}'),
          rejection(`{"em":"${GOOGLE_DIGEST}"}`),
          rejection('{"email":"bob@example.test"}'),
        ],
        keep: 100,
        now: at(0),
      });
      await t.store.setState({
        key: 'alerts:incident:1',
        value: { message: `delivery failed: Jane@Example.test rejected (${EMAIL_DIGEST})`, count: 2 },
        now: at(0),
      });
      await t.store.setState({ key: 'breaker:x', value: { state: 'closed' }, now: at(0) });

      const result = await erase([email], ['Jane@Example.test']);
      expect(result).toMatchObject({ rejections: 2, state: 1 });
      const left = await t.store.listRejections({ sourceId, limit: 10 });
      expect(left.map((r) => r.event)).toEqual(['{"email":"bob@example.test"}']);
      expect(await t.store.getState({ key: 'alerts:incident:1' })).toEqual({
        message: 'delivery failed: [erased] rejected ([erased])',
        count: 2,
      });
      expect(await t.store.getState({ key: 'breaker:x' })).toEqual({ state: 'closed' });
    });

    it('erases only whole values: a person "1000" leaves rejections, state and reasons quoting "10000" or "a1000b"', async () => {
      const userId = { kind: 'user_id', key: '1000' } as IdentifierRef;
      const mine = { event: newEvent('ord-m', {}), ids: [userId] };
      const near = { event: newEvent('ord-n', {}), ids: [userId] };
      await ingest([mine, near]);
      await filterWith({ [mine.event.id]: 'staff:1000', [near.event.id]: 'batch-10000' });
      await t.store.appendRejections({
        sourceId,
        rejections: [
          rejection('{"user_id":"1000","value":"x"}'),
          rejection('{"user_id":1000}'),
          rejection('{"user_id":"10000"}'),
          rejection('{"order_id":"a1000b"}'),
          rejection('{"user_id":"u-1000","phone":"555-10001"}'),
        ],
        keep: 100,
        now: at(0),
      });
      await t.store.setState({
        key: 'alerts:incident:2',
        value: { message: 'failed for 1000 (order 10000, ref a1000b)' },
        now: at(0),
      });
      await t.store.setState({ key: 'alerts:incident:3', value: { message: 'order 10000' }, now: at(0) });

      const result = await erase([userId], ['1000']);
      expect(result).toMatchObject({ events: 2, rejections: 2, state: 1 });
      const left = await t.store.listRejections({ sourceId, limit: 10 });
      expect(left.map((r) => r.event).sort()).toEqual(
        ['{"order_id":"a1000b"}', '{"user_id":"10000"}', '{"user_id":"u-1000","phone":"555-10001"}'].sort(),
      );
      expect(await t.store.getState({ key: 'alerts:incident:2' })).toEqual({
        message: 'failed for [erased] (order 10000, ref a1000b)',
      });
      expect(await t.store.getState({ key: 'alerts:incident:3' })).toEqual({ message: 'order 10000' });
      expect((await deliveryOf(mine.event.id)).row.filter_reason).toBe('erased');
      expect((await deliveryOf(near.event.id)).row.filter_reason).toBe('batch-10000');
    });

    it('erasing nobody erases nothing and still answers', async () => {
      await ingest([{ event: newEvent('ord-1', {}), ids: [email] }]);
      const result = await erase([{ kind: 'user_id', key: 'nobody-here' }]);
      expect(result).toMatchObject({ profiles: 0, events: 0, deliveries: 0, rejections: 0, state: 0 });
      expect(typeof result.compacted).toBe('boolean');
      expect(await t.store.listPersonEvents({ identifiers: [email], limit: 10 })).toHaveLength(1);
    });

    it('retention prunes the identifier index with the events', async () => {
      await ingest([{ event: newEvent('ord-1', {}, t0), ids: [email] }]);
      await t.store.prune({ before: at(60_000), limit: 100 });
      expect(await t.store.listPersonEvents({ identifiers: [email], limit: 10 })).toEqual([]);
    });
  });
}
