import { describe, expect, it } from 'vitest';
import { createObservers } from './observer.js';

describe('engine observers', () => {
  it('fans out to every observer, skips one that throws, and stops calling a removed one', () => {
    const { observer, add } = createObservers();
    const seen: string[] = [];
    add({
      sent() {
        throw new Error('a metrics bug');
      },
    });
    const remove = add({ sent: ({ destination }) => seen.push(destination) });
    add({ ingested: ({ source }) => seen.push(`ingested ${source}`) });
    observer.sent({ destination: 'meta', seconds: 0.1, ok: true });
    observer.ingested({ source: 'web', accepted: 1, duplicates: 0, rejected: {} });
    remove();
    observer.sent({ destination: 'meta', seconds: 0.1, ok: true });
    // A method no observer implements is a no-op.
    observer.breaker({ destination: 'meta', paused: true });
    expect(seen).toEqual(['meta', 'ingested web']);
  });
});
