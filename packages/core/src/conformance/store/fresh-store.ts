import { afterEach, beforeEach } from 'vitest';
import type { Store } from '../../store.js';
import type { StoreConformanceOptions } from './index.js';

/**
 * Gives each case of the enclosing `describe` a fresh, migrated store (`use` receives it before the
 * case) and closes it afterwards, then runs the options' `cleanup`.
 *
 * @example
 * ```ts
 * let store: Store;
 * freshStorePerCase(options, (s) => { store = s; });
 * ```
 */
export function freshStorePerCase(options: StoreConformanceOptions, use: (store: Store) => void): void {
  let store: Store;
  beforeEach(async () => {
    store = await options.createStore();
    await store.migrate();
    use(store);
  });
  afterEach(async () => {
    await store.close();
    await options.cleanup?.();
  });
}
