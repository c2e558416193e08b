import { describe, expect, it } from 'vitest';
import type { ConfigSnapshot } from '../config.js';
import type { Destination, Pipe } from '../schemas.js';
import type { ClaimedDelivery } from '../store.js';
import { type Breaker, closedBreaker } from './breaker.js';
import { claimableUnder, type LaneStepInput, nextLaneStep, rateWindow } from './lane-step.js';

const breakerSettings = { threshold: 2, initialPauseMs: 1000, maxPauseMs: 4000 };

function snapshot(destination: Partial<Destination> | null, pipes: Array<Partial<Pipe>>): ConfigSnapshot {
  const destinations = new Map<string, Destination>();
  if (destination) {
    destinations.set('dst_1', {
      id: 'dst_1',
      enabled: true,
      concurrency: 2,
      max_batch_size: 100,
      ...destination,
    } as Destination);
  }
  return {
    revision: 1,
    sourcesBySlug: new Map(),
    eventTypes: new Map(),
    destinations,
    pipes: new Map(pipes.map((p, i) => [`pip_${i}`, { id: `pip_${i}`, ...p } as Pipe])),
    enabledPipesBySource: new Map(),
  };
}

const enabledPipe = { enabled: true, destination_id: 'dst_1' };

function input(overrides: Partial<LaneStepInput>): LaneStepInput {
  return {
    config: snapshot({}, [enabledPipe]),
    destinationId: 'dst_1',
    breaker: closedBreaker(breakerSettings),
    now: 10_000,
    inFlight: 0,
    pollIntervalMs: 100,
    maxClaim: 2000,
    ...overrides,
  };
}

describe('what a lane does next', () => {
  it('stops when its destination is disabled or deleted', () => {
    expect(nextLaneStep(input({ config: snapshot({ enabled: false }, [enabledPipe]) })).step).toEqual({
      kind: 'stop',
    });
    expect(nextLaneStep(input({ config: snapshot(null, [enabledPipe]) })).step).toEqual({ kind: 'stop' });
  });

  it('sleeps a poll interval while no enabled pipe delivers to it', () => {
    const config = snapshot({}, [
      { enabled: false, destination_id: 'dst_1' },
      { enabled: true, destination_id: 'dst_other' },
    ]);
    expect(nextLaneStep(input({ config })).step).toEqual({ kind: 'sleep', ms: 100 });
  });

  it('claims one batch (max_batch_size, within maxClaim) of the enabled pipes of its destination', () => {
    const config = snapshot({ max_batch_size: 500 }, [
      enabledPipe,
      { enabled: false, destination_id: 'dst_1' },
      enabledPipe,
    ]);
    expect(nextLaneStep(input({ config })).step).toEqual({
      kind: 'claim',
      limit: 500,
      pipeIds: ['pip_0', 'pip_2'],
    });
    expect(nextLaneStep(input({ config, maxClaim: 50 })).step).toMatchObject({ kind: 'claim', limit: 50 });
  });

  it('claims only while fewer batches than the concurrency are in flight', () => {
    expect(nextLaneStep(input({ inFlight: 1 })).step.kind).toBe('claim');
    expect(nextLaneStep(input({ inFlight: 2 })).step).toEqual({ kind: 'wait-for-room' });
  });

  it('sleeps out an open breaker (at most ten poll intervals), then probes one batch at a time', () => {
    const open: Breaker = { state: 'open', failures: 2, pauseMs: 2000, pausedUntil: 13_000 };
    expect(nextLaneStep(input({ breaker: open, now: 12_500 }))).toEqual({
      step: { kind: 'sleep', ms: 500 },
      breaker: open,
    });
    expect(nextLaneStep(input({ breaker: open, now: 10_000 })).step).toEqual({ kind: 'sleep', ms: 1000 });
    const probing = nextLaneStep(input({ breaker: open, now: 13_000 }));
    expect(probing.breaker.state).toBe('half-open');
    expect(probing.step.kind).toBe('claim');
    expect(nextLaneStep(input({ breaker: probing.breaker, inFlight: 1 })).step).toEqual({
      kind: 'wait-for-room',
    });
  });

  it('turns a rate limit into a p-queue window, fractional rates included', () => {
    expect(rateWindow(10)).toEqual({ intervalCap: 10, interval: 1000 });
    expect(rateWindow(2.4)).toEqual({ intervalCap: 2, interval: 1000 });
    expect(rateWindow(0.5)).toEqual({ intervalCap: 1, interval: 2000 });
    expect(rateWindow(0.3)).toEqual({ intervalCap: 1, interval: 3333 });
  });

  it('keeps of a claimed batch, under a newer configuration, only what a claim under it would take', () => {
    const claimed = ['pip_0', 'pip_1', 'pip_2', 'pip_gone'].map(
      (pipe_id, i) => ({ id: `dlv_${i}`, pipe_id }) as ClaimedDelivery,
    );
    const ids = (list: ClaimedDelivery[]) => list.map((d) => d.id);
    // pip_1 disabled, pip_2 moved to another destination, pip_gone deleted.
    const pipes = [
      enabledPipe,
      { enabled: false, destination_id: 'dst_1' },
      { enabled: true, destination_id: 'dst_2' },
    ];
    const sorted = claimableUnder(snapshot({}, pipes), 'dst_1', claimed);
    expect(sorted.destination?.id).toBe('dst_1');
    expect(ids(sorted.keep)).toEqual(['dlv_0']);
    expect(ids(sorted.release)).toEqual(['dlv_1', 'dlv_2', 'dlv_3']);
    // The destination disabled or deleted: all of it goes back.
    for (const config of [snapshot({ enabled: false }, pipes), snapshot(null, pipes)]) {
      expect(claimableUnder(config, 'dst_1', claimed)).toEqual({
        destination: null,
        keep: [],
        release: claimed,
      });
    }
  });
});
