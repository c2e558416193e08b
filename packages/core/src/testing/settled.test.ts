import { describe, expect, it } from 'vitest';
import type { Pipes } from '../engine.js';
import type { Delivery } from '../schemas.js';
import { settled } from './helpers.js';

/** A `pipes` whose only used part, `deliveries.list`, pages like the real one (at most 1000 a page). */
function fakePipes(deliveries: Array<Pick<Delivery, 'id' | 'status'>>): Pipes {
  const list = async (_pipeId: string, options: { limit?: number; cursor?: string } = {}) => {
    const start = options.cursor ? Number(options.cursor) : 0;
    const end = start + Math.min(options.limit ?? 50, 1000);
    return { data: deliveries.slice(start, end), next_cursor: end < deliveries.length ? String(end) : null };
  };
  return { deliveries: { list } } as unknown as Pipes;
}

describe('settled', () => {
  it('counts deliveries on every page, so more than 1000 can settle', async () => {
    const deliveries = Array.from({ length: 2500 }, (_, i) => ({
      id: `evd_${i}`,
      status: 'delivered' as const,
    }));
    const all = await settled(fakePipes(deliveries), 'pip_1', 2500, 1000);
    expect(all).toHaveLength(2500);
  });

  it('keeps waiting while fewer than count are final', async () => {
    const deliveries = [
      { id: 'evd_1', status: 'delivered' as const },
      { id: 'evd_2', status: 'retrying' as const },
    ];
    await expect(settled(fakePipes(deliveries), 'pip_1', 2, 100)).rejects.toThrowError(
      /2 settled deliveries/,
    );
  });
});
