import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox } from './pool.js';
import type { CodeRef, SandboxEvent } from './types.js';

// A send() that keeps the first token it sees in a module-level variable, as a careless (or
// hostile) one would, and says which one it would send.
const code: CodeRef = {
  kind: 'send',
  owner: 'dst_rotation',
  version: 1,
  code: `let cached;
async function send({ events, secrets }) {
  if (cached === undefined) cached = secrets.TOKEN;
  if (events[0] && events[0].event_payload.wait) await fetch('http://stand-in.invalid/hold');
  return { would_send: cached };
}`,
};
const event = (payload: Record<string, unknown> = {}): SandboxEvent => ({
  event_type: 'purchase',
  event_time: '2026-05-04T10:00:00.000Z',
  event_payload: payload,
});

let sandbox: ReturnType<typeof createSandbox>;
beforeAll(() => {
  sandbox = createSandbox({ workers: 1 });
});
afterAll(async () => {
  await sandbox.close();
});

const created = async () => (await sandbox.stats()).perWorker[0]!.contextsCreated;
const warm = async () => (await sandbox.stats()).perWorker[0]!.warmContexts;
const wouldSend = async (token: string) => {
  const run = await sandbox.send({ code, events: [event()], secrets: { TOKEN: token } });
  expect(run.error).toBeUndefined();
  return (run.value as { would_send: string }).would_send;
};

describe('rotating a secret value', () => {
  it('never calls a context that saw another value, and retires those that saw an old one', async () => {
    const start = await created();
    expect(await wouldSend('token-old-0001')).toBe('token-old-0001');
    expect(await wouldSend('token-old-0001')).toBe('token-old-0001');
    expect(await created()).toBe(start + 1); // warm: the same context served both

    // The value changed: a context given the new value is a new one, whatever the old one cached.
    expect(await wouldSend('token-new-0002')).toBe('token-new-0002');
    expect(await created()).toBe(start + 2);
    expect(await warm()).toBe(2);

    // Retiring the old value disposes of the context that saw it, before retire() resolves.
    await sandbox.retire({ values: ['token-old-0001'] });
    expect(await warm()).toBe(1);
    expect(await wouldSend('token-new-0002')).toBe('token-new-0002');
    expect(await created()).toBe(start + 2);
  });

  it('disposes of a context that is busy when its value is retired once its call ends', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let fetched: () => void = () => {};
    const fetchStarted = new Promise<void>((resolve) => {
      fetched = resolve;
    });
    const fetch = async () => {
      fetched();
      await held;
      return new Response('ok');
    };
    const before = await created();
    const busy = sandbox.send({
      code,
      events: [event({ wait: true })],
      secrets: { TOKEN: 'token-busy-0003' },
      options: { fetch },
    });
    await fetchStarted;
    const warmBefore = await warm();
    await sandbox.retire({ values: ['token-busy-0003'] });
    release();
    const run = await busy;
    expect((run.value as { would_send: string }).would_send).toBe('token-busy-0003');
    // It was not put back: no more warm contexts than before, and the next call makes a new one.
    expect(await warm()).toBe(warmBefore);
    expect(await wouldSend('token-busy-0003')).toBe('token-busy-0003');
    expect(await created()).toBe(before + 2);
  });

  it('keeps a value made current again usable warm', async () => {
    expect(await wouldSend('token-again-0004')).toBe('token-again-0004');
    await sandbox.retire({ values: ['token-again-0004'] });
    const before = await created();
    expect(await wouldSend('token-again-0004')).toBe('token-again-0004');
    expect(await wouldSend('token-again-0004')).toBe('token-again-0004');
    // One new context after the retirement, then it stays warm.
    expect(await created()).toBe(before + 1);
  });
});
