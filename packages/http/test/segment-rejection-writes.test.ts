/**
 * A hostile sender on /v1 (the write key is public: it sits in every page's snippet) sends a batch
 * of messages that map to no event. The rejection log keeps every one, in one multi-row insert per
 * request as at /collect, not one store write per message: 1000 `null`s in 6 KB of body must not
 * cost 1000 sequential inserts (each with its trim of the source's log).
 * Real engine, SQLite file, node:http on port 0; the store is the real one, its writes counted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, type Pipes, type Store, silentLogger } from '@openpipes/core';
import { testSecretKey } from '@openpipes/core/testing';
import { sqliteStore } from '@openpipes/store-sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { closeServer, listen } from './sqlite-engine.js';

describe('unmappable Segment messages in the rejection log', { timeout: 60_000 }, () => {
  let dir: string;
  let store: Store;
  let pipes: Pipes;
  let server: Server;
  let base: string;
  let sourceId: string;
  let key: string;
  let rejectionWrites = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openpipes-segment-rejections-'));
    const real = sqliteStore({ filename: join(dir, 'openpipes.db') });
    // The real store; only its rejection-log writes are counted.
    store = new Proxy(real, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (name !== 'appendRejections' || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          rejectionWrites++;
          return value.apply(target, args);
        };
      },
    });
    pipes = createPipes({ store, secretKey: testSecretKey, logger: silentLogger, sandbox: { workers: 1 } });
    await pipes.start();
    const handler = createHandler(pipes, { segment: true, logger: silentLogger });
    server = createServer(createNodeListener(handler));
    base = `http://127.0.0.1:${await listen(server)}`;
    sourceId = (await pipes.sources.create({ name: 'Web', slug: 'web' })).id;
    key = (await pipes.writeKeys.create(sourceId)).write_key;
  });
  afterAll(async () => {
    await closeServer(server);
    await pipes?.stop({ graceMs: 2000 });
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps 1000 refused messages of one request with one write, each at its own batch index', async () => {
    const before = rejectionWrites;
    const answer = await fetch(`${base}/v1/batch`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ batch: Array.from({ length: 1000 }, () => null) }),
    });
    expect({ status: answer.status, body: await answer.json() }).toEqual({
      status: 200,
      body: { success: true },
    });
    expect(rejectionWrites - before).toBe(1);
    const kept = await store.listRejections({ sourceId, limit: 1000 });
    expect(kept).toHaveLength(1000);
    const paths = kept.map((r) => r.error.issues?.[0]?.path ?? '');
    expect(paths.filter((p) => p.startsWith('batch[0].'))).toHaveLength(1);
    expect(paths.filter((p) => p.startsWith('batch[999].'))).toHaveLength(1);
  });
});
