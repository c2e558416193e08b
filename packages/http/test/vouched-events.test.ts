/**
 * The collect route hands ingest the events its parser checked, marked so that ingest does not walk
 * them again (core json-value.ts, vouchStorableList). The mark is on the list: an embedder's `pipes`
 * whose `ingest` changes the events before the engine's own (an enrichment wrapper, say) must not
 * get what it added past ingest's checks. An Infinity it adds is refused, as it was before the mark.
 */
import { createServer, type Server } from 'node:http';
import { type Pipes, vouchStorableList } from '@openpipes/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { closeServer, listen, type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

describe('events the collect route vouched for, changed by an embedder’s ingest', () => {
  let engine: SqliteEngine;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    engine = await startSqliteEngine('vouched-events', {}, { start: false });
    const { pipes } = engine;
    await pipes.sources.create({ name: 'Web', slug: 'web' });
    await pipes.eventTypes.create({ name: 'any', schema: { type: 'object' } });
    // An embedder's enrichment: a score added to each event in place, then the engine's ingest.
    const enriching: Pipes = {
      ...pipes,
      ingest: (slug, events) => {
        for (const event of (Array.isArray(events) ? events : [events]) as Array<{
          event_payload: Record<string, unknown>;
        }>) {
          event.event_payload.score = event.event_payload.n === 1 ? Number.POSITIVE_INFINITY : 1;
        }
        return pipes.ingest(slug, events);
      },
    };
    server = createServer(createNodeListener(createHandler(enriching)));
    base = `http://127.0.0.1:${await listen(server)}`;
  });
  afterAll(async () => {
    await closeServer(server);
    await engine?.stop();
  });

  it('refuses a number the embedder’s ingest made Infinity, stores the rest', async () => {
    const time = new Date().toISOString();
    const body = [0, 1].map((n) => ({ event_type: 'any', event_time: time, event_payload: { n } }));
    const answer = await fetch(`${base}/collect/web`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await answer.json()) as {
      accepted: number;
      rejected: number;
      results: Array<{ status: string; error?: { issues?: Array<{ path: string }> } }>;
    };
    expect(answer.status).toBe(202);
    expect({ accepted: json.accepted, rejected: json.rejected }).toEqual({ accepted: 1, rejected: 1 });
    expect(json.results[1]?.status).toBe('rejected');
    expect(json.results[1]?.error?.issues?.map((i) => i.path)).toEqual(['event_payload.score']);
  });

  it('still vouches to the engine’s own ingest (the collect path skips the second walk)', async () => {
    // A list vouched for and then changed is taken as vouched: what an engine's own ingest skips.
    // (Only the collect route vouches, right before it calls that ingest with the list as parsed.)
    const time = new Date().toISOString();
    const list = [
      { event_type: 'any', event_time: time, event_payload: { n: 2 } as Record<string, unknown> },
    ];
    vouchStorableList(list, 32, engine.pipes.ingest);
    list[0]!.event_payload.score = Number.POSITIVE_INFINITY;
    expect((await engine.pipes.ingest('web', list)).accepted).toBe(1);
    // Not vouched for: refused.
    const fresh = [{ ...list[0]!, event_payload: { n: 3, score: Number.POSITIVE_INFINITY } }];
    expect((await engine.pipes.ingest('web', fresh)).rejected).toBe(1);
  });
});
