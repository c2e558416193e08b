/** Test support for the config-transfer tests: the configuration an import is planned against. */
import type { ConfigSnapshot } from './document.js';

/** A target configuration: empty, but for what `overrides` gives. */
export function targetSnapshot(overrides: Partial<ConfigSnapshot> = {}): ConfigSnapshot {
  return {
    secrets: [],
    eventTypes: [],
    sources: [],
    destinations: [],
    pipes: [],
    channels: [],
    ...overrides,
  };
}
