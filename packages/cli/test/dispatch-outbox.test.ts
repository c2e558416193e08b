/**
 * The dispatch thread's outboxes (src/serve/dispatch-outbox.ts): what the worker posts to the main
 * thread once per tick, and what the main thread posts to the worker once per tick. Log fields are whatever the engine's code passed; a batch whose fields do
 * not clone must still reach the main thread, and must never throw in the worker (an uncaught
 * exception there ends the thread and loses the batch).
 */
import { describe, expect, it } from 'vitest';
import { createMainOutbox, createOutbox } from '../src/serve/dispatch-outbox.js';
import type { FromWorker, ToWorker } from '../src/serve/dispatch-protocol.js';

/** Posts as postMessage does: a structured clone, DataCloneError for what does not clone. */
function port() {
  const received: FromWorker[] = [];
  return { received, post: (message: FromWorker) => received.push(structuredClone(message)) };
}

describe('dispatch thread outbox', () => {
  it('posts a batch whose log fields mix a function, a BigInt, a circular object and an error with a cause', () => {
    const { received, post } = port();
    const outbox = createOutbox(() => null, post);
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const cause = { retry: () => true };
    outbox.log({
      level: 'warn',
      message: 'odd fields',
      fields: { fn: () => 1, big: 10n, circular, error: new Error('boom', { cause }) },
    });
    outbox.observe('sent', { destination_id: 'dst_1', count: 2 });
    expect(() => outbox.flush()).not.toThrow();
    expect(received).toHaveLength(1);
    const batch = received[0] as Extract<FromWorker, { type: 'batch' }>;
    expect(batch.logs[0]?.message).toBe('odd fields');
    expect(batch.logs[0]?.fields.big).toBe('10');
    expect(String(batch.logs[0]?.fields.error)).toContain('boom');
    expect(batch.observations).toEqual([['sent', { destination_id: 'dst_1', count: 2 }]]);
  });

  it('keeps cloneable fields as they are when the batch clones', () => {
    const { received, post } = port();
    const outbox = createOutbox(() => null, post);
    outbox.log({ level: 'info', message: 'plain', fields: { big: 10n, n: 1, nested: { a: [1] } } });
    outbox.flush();
    const batch = received[0] as Extract<FromWorker, { type: 'batch' }>;
    expect(batch.logs[0]?.fields).toEqual({ big: 10n, n: 1, nested: { a: [1] } });
  });
});

/** Resolves after the callbacks already queued with setImmediate (the outbox's flush among them). */
const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the main thread’s outbox to the dispatch thread', () => {
  it('sends one config message for many configuration writes in one tick, before that tick’s one wake', async () => {
    const sent: ToWorker[] = [];
    const outbox = createMainOutbox((message) => sent.push(structuredClone(message)));
    for (let write = 0; write < 20; write++) outbox.configChanged();
    outbox.wake(['dst_1']);
    outbox.wake(['dst_2', 'dst_1']);
    outbox.configChanged();
    expect(sent).toEqual([]);
    await nextTick();
    expect(sent).toEqual([{ type: 'config' }, { type: 'wake', ids: ['dst_1', 'dst_2'] }]);

    // The next tick's writes are the next message; a tick with no wake sends no wake.
    outbox.configChanged();
    outbox.configChanged();
    await nextTick();
    expect(sent.slice(2)).toEqual([{ type: 'config' }]);
    outbox.wake(['dst_3']);
    await nextTick();
    expect(sent.slice(3)).toEqual([{ type: 'wake', ids: ['dst_3'] }]);
  });
});
