/**
 * The update trigger that counts status changes into `delivery_rollup` joins the statement's old and
 * new rows by id. PL/pgSQL kept a generic plan made on small statements, a nested loop, and ran a
 * claim or an outcome of 500 rows through it: quadratic, 12 % of PostgreSQL's CPU per delivered
 * event in the end-to-end bench. Migration 17 runs the function without nested loops. The plan is
 * read from auto_explain (loaded into the test's own session; the test is skipped where the server
 * has no auto_explain to load, and fails so under CI).
 */
import { newId } from '@openpipes/core';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { inCi, postgresAvailable, postgresUrl, query, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('rollup_plan', 1);
afterEach(stores.close);
const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const now = new Date(t0).toISOString();
const pipe = { pipe_id: newId('pipe', t0), destination_id: newId('destination', t0) };

/** A connection of the test's own with auto_explain logging every plan back to it, or null. */
async function explainingClient(plans: string[]): Promise<pg.Client | null> {
  const client = new pg.Client({ connectionString: postgresUrl });
  client.on('error', () => {});
  await client.connect();
  stores.closing(() => client.end());
  try {
    await client.query(`LOAD 'auto_explain'`);
  } catch {
    return null;
  }
  await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
    SET client_min_messages = log`);
  client.on('notice', (n) => plans.push(n.message ?? ''));
  return client;
}

describe.skipIf(!available)('the delivery rollup trigger', () => {
  it('joins a statement of many changed rows without a nested loop, and counts each change once', async (ctx) => {
    const { store, schema } = await stores.open();
    const plans: string[] = [];
    const client = await explainingClient(plans);
    if (!client) {
      // As with PostgreSQL itself (testing.ts): CI must run the test, not skip it.
      if (inCi()) throw new Error('auto_explain cannot be loaded on this server, and CI must run this test');
      return ctx.skip('auto_explain cannot be loaded on this server');
    }
    const events = Array.from({ length: 505 }, () => {
      const id = newId('event', t0);
      return {
        id,
        event_id: id,
        sender_event_id: false,
        event_type: 'purchase',
        event_time: now,
        event_payload: {},
      };
    });
    await store.appendEvents({
      sourceId: 'src_plan',
      events,
      pipes: [pipe],
      deliveryIds: events.map(() => newId('delivery', t0)),
      dedupSince: null,
      now,
    });
    const ids = (await query<{ id: string }>(`SELECT id FROM "${schema}".deliveries ORDER BY id`)).map(
      (r) => r.id,
    );
    const claim = `UPDATE "${schema}".deliveries SET status = 'sending', updated_at = $2 WHERE id = ANY($1::text[])`;
    // Five one-row statements first: after them PL/pgSQL may keep a generic plan.
    for (const id of ids.slice(0, 5)) await client.query(claim, [[id], now]);
    plans.length = 0;
    await client.query(claim, [ids.slice(5), now]);

    const counted = plans.filter((p) => p.includes('INSERT INTO delivery_rollup'));
    expect(counted).toHaveLength(1);
    expect(counted[0]).not.toContain('Nested Loop');
    const rollup = await query<{ status: string; n: number }>(
      `SELECT status, sum(count)::int AS n FROM "${schema}".delivery_rollup GROUP BY status ORDER BY status`,
    );
    expect(rollup).toEqual([
      { status: 'pending', n: 505 },
      { status: 'sending', n: 505 },
    ]);
  });
});
