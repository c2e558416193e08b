// A send test (`pipes.sendTests.run`, docs/destinations.md) runs in the production sandbox as one
// code owner per destination, not a new one per call: the pool's fair share, its "least used goes
// first" order and its isolation of code that spins key on the owner, so an owner per call made a
// loop of send tests look like ever-new neighbours that go first and are never suspect. Each call
// still gets a fresh context (module state never carries over). Observed on the real sandbox by
// the owners it is handed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, type Pipes } from '@openpipes/core';
import { testSecretKey } from '@openpipes/core/testing';
import { createSandbox, type Sandbox } from '@openpipes/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

// Module state counts the runs one context has seen.
const countingSend = `let runs = 0;
async function send({ events }) {
  runs++;
  return { runs, events: events.length };
}`;

describe('send tests in the sandbox', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-send-test-owner-'));
  const owners: string[] = [];
  let sandbox: Sandbox;
  let pipes: Pipes;

  beforeAll(async () => {
    sandbox = createSandbox({ workers: 1 });
    const recording = new Proxy(sandbox, {
      get(target, key) {
        if (key === 'send')
          return (input: Parameters<Sandbox['send']>[0]) => {
            owners.push(input.code.owner);
            return target.send(input);
          };
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    pipes = createPipes({
      store: sqliteStore({ filename: join(dir, 'db.sqlite') }),
      secretKey: testSecretKey,
      sandbox: recording,
    });
  });
  afterAll(async () => {
    await pipes.stop({ graceMs: 500 });
    await pipes.store.close();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs every send test of a destination as one owner, apart from its deliveries, in a fresh context each time', async () => {
    const destination = await pipes.destinations.create({ name: 'counting', send: countingSend });
    const other = await pipes.destinations.create({ name: 'other', send: countingSend });
    const output = { event_type: 'Purchase', event_time: '2026-01-01T00:00:00Z', event_payload: {} };
    const values: unknown[] = [];
    for (const id of [destination.id, destination.id, destination.id, other.id]) {
      const result = await pipes.sendTests.run(id, { mode: 'dry', outputs: [output] });
      values.push(result.value);
    }
    expect(values).toEqual(Array(4).fill({ runs: 1, events: 1 }));
    expect(new Set(owners.slice(0, 3)).size).toBe(1);
    expect(owners[0]).not.toBe(destination.id);
    expect(owners[3]).not.toBe(owners[0]);
  });
});
