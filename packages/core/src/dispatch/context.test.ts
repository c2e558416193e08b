import { describe, expect, it } from 'vitest';
import { createActivity } from './context.js';

describe('dispatcher activity', () => {
  it('is idle at once with nothing in flight, and when the last piece of work ends', async () => {
    const activity = createActivity();
    await activity.idle();
    const endClaim = activity.begin();
    const endBatch = activity.begin();
    let idle = false;
    const waiting = activity.idle().then(() => {
      idle = true;
    });
    endClaim();
    endClaim(); // ending twice counts once
    await Promise.resolve();
    expect(idle).toBe(false);
    endBatch();
    await waiting;
    expect(idle).toBe(true);
  });
});
