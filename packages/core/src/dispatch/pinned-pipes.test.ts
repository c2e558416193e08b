import { describe, expect, it } from 'vitest';
import type { ConfigSnapshot } from '../config.js';
import { PipesError } from '../errors.js';
import type { Pipe } from '../schemas.js';
import type { ClaimedDelivery } from '../store.js';
import { createPinnedPipes, defaultPinnedPipesBound } from './pinned-pipes.js';

const current = { id: 'pip_1', version: 9, name: 'current' } as Pipe;
const config = { pipes: new Map([['pip_1', current]]) } as ConfigSnapshot;
const delivery = (version: number | null) =>
  ({ id: `evd_${version}`, pipe_id: 'pip_1', pinned_pipe_version: version }) as ClaimedDelivery;

function registry() {
  const reads: number[] = [];
  return {
    reads,
    async getVersion(id: string, version: number): Promise<Pipe> {
      reads.push(version);
      if (version === 99_404)
        throw new PipesError({ code: 'NOT_FOUND', message: `pipe ${id} has no version 404` });
      if (version === 99_500) throw new Error('store down');
      return { id, version, name: `v${version}` } as Pipe;
    },
  };
}

describe('pinned pipe versions', () => {
  it('runs a pinned delivery through its version and an unpinned one through the current pipe', async () => {
    const pinned = createPinnedPipes(registry());
    const pipeFor = await pinned.resolver(config, [delivery(3), delivery(null)]);
    expect(pipeFor(delivery(3)).name).toBe('v3');
    expect(pipeFor(delivery(null))).toBe(current);
  });

  it('reads each version once while it stays cached', async () => {
    const reg = registry();
    const pinned = createPinnedPipes(reg);
    await pinned.resolver(config, [delivery(3), delivery(3), delivery(4)]);
    await pinned.resolver(config, [delivery(4), delivery(3)]);
    expect(reg.reads).toEqual([3, 4]);
  });

  it('keeps at most its bound, evicting the least recently used', async () => {
    const reg = registry();
    const pinned = createPinnedPipes({ getVersion: reg.getVersion, bound: 2 });
    await pinned.resolver(config, [delivery(1)]);
    await pinned.resolver(config, [delivery(2)]);
    await pinned.resolver(config, [delivery(1)]); // 1 is now the most recent
    await pinned.resolver(config, [delivery(3)]); // evicts 2
    expect(pinned.size()).toBe(2);
    await pinned.resolver(config, [delivery(1)]);
    expect(reg.reads).toEqual([1, 2, 3]);
    await pinned.resolver(config, [delivery(2)]);
    expect(reg.reads).toEqual([1, 2, 3, 2]);
  });

  it('serves a whole batch even when it pins more versions than the bound', async () => {
    const pinned = createPinnedPipes({ getVersion: registry().getVersion, bound: 2 });
    const batch = [1, 2, 3, 4].map(delivery);
    const pipeFor = await pinned.resolver(config, batch);
    expect(batch.map((d) => pipeFor(d).name)).toEqual(['v1', 'v2', 'v3', 'v4']);
    expect(pinned.size()).toBe(2);
  });

  it('stays bounded under many versions (default bound)', async () => {
    const pinned = createPinnedPipes({ getVersion: registry().getVersion });
    for (let v = 1; v <= defaultPinnedPipesBound + 200; v++) await pinned.resolver(config, [delivery(v)]);
    expect(pinned.size()).toBe(defaultPinnedPipesBound);
  });

  it('falls back to the current pipe for a version that is gone, and passes other errors on', async () => {
    const pinned = createPinnedPipes(registry());
    const pipeFor = await pinned.resolver(config, [delivery(99_404)]);
    expect(pipeFor(delivery(99_404))).toBe(current);
    await expect(pinned.resolver(config, [delivery(99_500)])).rejects.toThrow('store down');
  });
});
