import { describe, expect, it } from 'vitest';
import type { Logger } from '../logger.js';
import { channelHealthKey, createHealthUpdates, emptyHealth, recordOutcome } from './health.js';
import { channelUrlRedactor } from './post.js';

const ok = { ok: true, status: 200, error: null, at: '2026-01-01T00:00:00.000Z' };
const failed = { ok: false, status: 500, error: 'HTTP 500', at: '2026-01-01T00:00:01.000Z' };

describe('alert channel health', () => {
  it('counts failures in a row and in all; a success ends the run but not the total', () => {
    const health = emptyHealth();
    recordOutcome(health, failed);
    recordOutcome(health, failed);
    expect(health).toMatchObject({ consecutive_failures: 2, failure_count: 2, last_delivery: failed });
    recordOutcome(health, ok);
    expect(health).toMatchObject({ consecutive_failures: 0, failure_count: 2, last_delivery: ok });
  });

  it('applies concurrent updates of one channel one after the other, none lost', async () => {
    const state = new Map<string, unknown>();
    const store = {
      // Each read and write takes a turn of the event loop, so unchained updates would interleave.
      get: async (key: string) => structuredClone(state.get(key) ?? null),
      set: async (key: string, value: unknown) => {
        await Promise.resolve();
        state.set(key, value);
      },
    };
    const warnings: unknown[] = [];
    const logger: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
    const updates = createHealthUpdates(store, logger);
    for (let i = 0; i < 5; i++) {
      void updates.update('ch_1', (h) => {
        h.dropped_count++;
      });
    }
    await updates.settled();
    expect(state.get(channelHealthKey('ch_1'))).toMatchObject({ dropped_count: 5 });
    expect(warnings).toEqual([]);
  });

  it('logs a failed write as a warning and goes on with the next update', async () => {
    let fail = true;
    const state = new Map<string, unknown>();
    const store = {
      get: async (key: string) => state.get(key) ?? null,
      set: async (key: string, value: unknown) => {
        if (fail) {
          fail = false;
          throw new Error('disk full');
        }
        state.set(key, value);
      },
    };
    const warnings: unknown[] = [];
    const logger: Logger = { debug() {}, info() {}, warn: (_m, f) => warnings.push(f), error() {} };
    const updates = createHealthUpdates(store, logger);
    await updates.update('ch_2', (h) => recordOutcome(h, failed));
    await updates.update('ch_2', (h) => recordOutcome(h, ok));
    expect(warnings).toEqual([{ channel_id: 'ch_2', error: 'Error: disk full' }]);
    expect(state.get(channelHealthKey('ch_2'))).toMatchObject({ failure_count: 0, last_delivery: ok });
  });
});

describe('alert channel URL redaction', () => {
  it('hides the whole URL and its path on their own, leaving other words', () => {
    const url = 'https://hooks.slack.example/services/T0/B0/s3cr3t-t0k3n?x=1';
    const redact = channelUrlRedactor(url);
    const out = redact(`HTTP 404: no such hook ${url} (path /services/T0/B0/s3cr3t-t0k3n?x=1)`);
    expect(out).not.toContain('s3cr3t-t0k3n');
    expect(out).toContain('HTTP 404: no such hook');
  });

  it('adds nothing for a URL without a path, and does not throw on an invalid one', () => {
    expect(channelUrlRedactor('https://alerts.example/')('sent to / and back')).toBe('sent to / and back');
    expect(channelUrlRedactor('not a url')('failed: not a url')).not.toContain('not a url');
  });
});
