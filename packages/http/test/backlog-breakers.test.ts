/**
 * `GET /api/backlog` carries the circuit breakers (what the console's overview shows as paused
 * destinations) on a real engine: a stand-in for Meta on 127.0.0.1 that keeps answering 500 opens
 * its destination's breaker, and the backlog answer shows it open with its failures and pause end.
 */
import type { Pipes } from '@openpipes/core';
import { purchaseEvent, setupMetaExample, startTestServer, type TestServer } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { readKey } from './servers.js';
import { type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

describe('GET /api/backlog and the circuit breakers', () => {
  let down: TestServer;
  let engine: SqliteEngine;
  let pipes: Pipes;

  beforeAll(async () => {
    down = await startTestServer(() => ({ status: 500, body: { error: { message: 'down' } } }));
    // One failed batch opens the breaker, and it stays open for the whole test (no probe runs).
    engine = await startSqliteEngine('backlog-breakers', {
      egressAllow: [down.host],
      dispatcher: { pollIntervalMs: 20, breakerThreshold: 1, breakerInitialPauseMs: 600_000 },
    });
    pipes = engine.pipes;
  });
  afterAll(async () => {
    await engine?.stop();
    await down?.close();
  });

  it('shows the paused destination with its breaker state, failures and pause end, and its backlog', async () => {
    const flow = await setupMetaExample(pipes, down, {
      max_batch_size: 1,
      retry: { max_attempts: 5, initial_delay_ms: 1, multiplier: 1 },
    });
    const destinationId = flow.pipe.destination_id;
    const paused = new Promise((resolve) => pipes.on('destination-paused', resolve));
    await pipes.ingest('web', [purchaseEvent('ord_breaker')]);
    await paused;

    const handler = createHandler(pipes, { apiKeys: [readKey] });
    const answer = await handler(
      new Request('http://localhost/api/backlog', { headers: { authorization: `Bearer ${readKey.token}` } }),
    );
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as {
      data: Array<{ destination_id: string; count: number }>;
      breakers: Record<string, { state: string; consecutive_failures: number; paused_until: string | null }>;
    };
    const breaker = body.breakers[destinationId];
    expect(breaker?.state).toBe('open');
    expect(breaker?.consecutive_failures).toBeGreaterThanOrEqual(1);
    // Paused for the configured 10 minutes (with jitter at most): the end lies ahead.
    expect(Date.parse(breaker!.paused_until!)).toBeGreaterThan(Date.now() + 60_000);
    // The delivery waits for the breaker, so it is still in the backlog.
    expect(body.data).toEqual([{ destination_id: destinationId, count: 1 }]);
    // The same shape and values as /api/stats' engine.breakers.
    expect(body.breakers).toEqual(pipes.status().breakers);
  });
});
