/** Store conformance: the key/value state (breakers, wake-ups). */
import { describe, expect, it } from 'vitest';
import { at, type StoreCases } from './fixtures.js';

export function stateCases(t: StoreCases): void {
  describe('state', () => {
    it('sets, replaces, reads and deletes JSON values', async () => {
      expect(await t.store.getState({ key: 'breaker:dst_1' })).toBeNull();
      await t.store.setState({ key: 'breaker:dst_1', value: { open: true, n: 3 }, now: at(0) });
      await t.store.setState({ key: 'breaker:dst_1', value: { open: false, n: 0 }, now: at(1) });
      expect(await t.store.getState({ key: 'breaker:dst_1' })).toEqual({ open: false, n: 0 });
      await t.store.setState({ key: 'breaker:dst_1', value: null, now: at(2) });
      expect(await t.store.getState({ key: 'breaker:dst_1' })).toBeNull();
    });
  });
}
