import { describe, expect, it } from 'vitest';
import type { Logger } from '../logger.js';
import { createPassRunner, createVolumeBuffer } from './passes.js';

const recording = () => {
  const lines: string[] = [];
  const log = (message: unknown) => lines.push(String(message));
  const logger: Logger = { debug: log, info: log, warn: log, error: log };
  return { lines, logger };
};

describe('alert pass runner', () => {
  it('folds the requests made before a pass starts into one pass', async () => {
    let passes = 0;
    const runner = createPassRunner(async () => {
      passes++;
    }, recording().logger);
    runner.schedule();
    runner.schedule();
    runner.schedule();
    await runner.idle();
    expect(passes).toBe(1);
  });

  it('runs one more pass for requests made while a pass runs, never two at once', async () => {
    let running = 0;
    let most = 0;
    let passes = 0;
    let release: () => void = () => {};
    const runner = createPassRunner(async () => {
      running++;
      most = Math.max(most, running);
      passes++;
      if (passes === 1) await new Promise<void>((resolve) => (release = resolve));
      running--;
    }, recording().logger);
    runner.schedule();
    await new Promise((resolve) => setImmediate(resolve));
    // The first pass is waiting: these ask for more while it runs.
    runner.schedule();
    await new Promise((resolve) => setImmediate(resolve));
    runner.schedule();
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await runner.idle();
    expect(passes).toBe(2);
    expect(most).toBe(1);
  });

  it('logs a pass that throws and runs the next one', async () => {
    const { lines, logger } = recording();
    let passes = 0;
    const runner = createPassRunner(async () => {
      passes++;
      if (passes === 1) throw new Error('store down');
    }, logger);
    runner.schedule();
    await runner.idle();
    runner.schedule();
    await runner.idle();
    expect(passes).toBe(2);
    expect(lines).toEqual(['evaluating alerts failed']);
  });
});

describe('alert volume buffer', () => {
  it('keeps the counts when the store fails and writes them with the next flush', async () => {
    const written: unknown[] = [];
    let fail = true;
    const { lines, logger } = recording();
    const buffer = createVolumeBuffer({
      store: {
        addVolume: async ({ counts }) => {
          if (fail) throw new Error('store down');
          written.push(...counts);
        },
      },
      now: () => Date.parse('2026-01-01T10:00:30Z'),
      logger,
    });
    buffer.count(Date.parse('2026-01-01T10:00:30Z'), 'src_1', new Map([['purchase', 2]]));
    buffer.count(Date.parse('2026-01-01T10:00:40Z'), 'src_1', new Map([['purchase', 3]]));
    await buffer.flush();
    expect(buffer.pending()).toBe(true);
    expect(lines).toEqual(['could not record event volume']);
    fail = false;
    await buffer.flush();
    expect(buffer.pending()).toBe(false);
    expect(written).toEqual([
      expect.objectContaining({ source_id: 'src_1', event_type: 'purchase', count: 5 }),
    ]);
  });
});
