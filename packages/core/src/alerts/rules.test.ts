import { describe, expect, it } from 'vitest';
import type { ConfigSnapshot } from '../config.js';
import type { Destination, Pipe } from '../schemas.js';
import {
  channelsForDestination,
  channelsForPipe,
  destinationSubjects,
  incidentKey,
  pipeSubjects,
  pipeTriggers,
} from './rules.js';
import { type AlertChannelConfig, alertChannelDataSchema } from './schemas.js';

const channel = (id: string, fields: Record<string, unknown> = {}): AlertChannelConfig =>
  ({
    ...alertChannelDataSchema.parse({ name: id, type: 'slack', url_secret_id: 'sec_1', ...fields }),
    id,
    version: 1,
  }) as AlertChannelConfig;

const config = {
  pipes: new Map([
    ['pip_1', { id: 'pip_1', name: 'to-meta', destination_id: 'dst_1' } as Pipe],
    ['pip_2', { id: 'pip_2', name: 'to-tiktok', destination_id: 'dst_2' } as Pipe],
  ]),
  destinations: new Map([['dst_1', { id: 'dst_1', name: 'meta' } as Destination]]),
} as ConfigSnapshot;

const ex = (id: string) => ({ delivery_id: id, error: { code: 'HTTP_500', message: 'boom' } });
const examples = { firstFailure: ex('first'), lastFailure: ex('last'), firstDead: ex('dead') };
const rate = (failed: number, total: number) => ({
  failed,
  total,
  rate: total === 0 ? 0 : failed / total,
  threshold: 0.25,
  window_seconds: 300,
});

describe('alert rules', () => {
  it('routes pipe alerts to channels that watch the pipe and have a pipe rule', () => {
    const all = channel('all');
    const only2 = channel('only2', { pipe_ids: ['pip_2'] });
    const pausesOnly = channel('pauses', { kinds: ['destination_paused'] });
    expect(channelsForPipe([all, only2, pausesOnly], 'pip_1').map((c) => c.id)).toEqual(['all']);
    expect(channelsForPipe([all, only2, pausesOnly], 'pip_2').map((c) => c.id)).toEqual(['all', 'only2']);
  });

  it('routes destination alerts to channels that watch any pipe of the destination', () => {
    const all = channel('all');
    const only1 = channel('only1', { pipe_ids: ['pip_1'] });
    const only2 = channel('only2', { pipe_ids: ['pip_2'] });
    const failingOnly = channel('failing', { kinds: ['pipe_failing'] });
    expect(
      channelsForDestination([all, only1, only2, failingOnly], config, 'dst_1').map((c) => c.id),
    ).toEqual(['all', 'only1']);
  });

  it('fires pipe_failing on any failure, delivery_dead on a dead one, failure_rate at the threshold', () => {
    const c = channel('c', { failure_rate: { threshold: 0.25, window_seconds: 300, min_events: 4 } });
    expect(pipeTriggers(c, { failures: 0, dead: 0 }, examples, rate(0, 10))).toEqual([]);
    expect(pipeTriggers(c, { failures: 1, dead: 0 }, examples, rate(1, 10))).toEqual([
      { kind: 'pipe_failing', count: 1, example: ex('first') },
    ]);
    expect(
      pipeTriggers(c, { failures: 2, dead: 1 }, examples, rate(1, 4)).map((t) => [t.kind, t.count]),
    ).toEqual([
      ['pipe_failing', 2],
      ['delivery_dead', 1],
      ['failure_rate', 2],
    ]);
    // Below min_events a rate never fires, however high.
    expect(pipeTriggers(c, { failures: 3, dead: 0 }, examples, rate(3, 3)).map((t) => t.kind)).toEqual([
      'pipe_failing',
    ]);
    const rateOnly = channel('r', { kinds: ['failure_rate'] });
    expect(pipeTriggers(rateOnly, { failures: 5, dead: 5 }, examples, rate(5, 100))).toEqual([]);
    expect(pipeTriggers(rateOnly, { failures: 5, dead: 5 }, examples, rate(25, 100))).toEqual([
      { kind: 'failure_rate', count: 5, example: ex('last') },
    ]);
  });

  it('names subjects, falling back to ids when a pipe or destination is gone', () => {
    expect(pipeSubjects(config, 'pip_1')).toEqual({
      pipe: { id: 'pip_1', name: 'to-meta' },
      destination: { id: 'dst_1', name: 'meta' },
    });
    expect(pipeSubjects(config, 'pip_gone', { id: 'dst_9', name: 'old' })).toEqual({
      pipe: { id: 'pip_gone', name: 'pip_gone' },
      destination: { id: 'dst_9', name: 'old' },
    });
    expect(pipeSubjects(config, 'pip_2').destination).toEqual({ id: 'dst_2', name: 'dst_2' });
    expect(pipeSubjects(config, 'pip_gone')).toEqual({
      pipe: { id: 'pip_gone', name: 'pip_gone' },
      destination: null,
    });
    expect(destinationSubjects(config, { id: 'dst_1' }, null)).toEqual({
      pipe: null,
      destination: { id: 'dst_1', name: 'meta' },
    });
    expect(destinationSubjects(config, { id: 'dst_1', name: 'renamed' }, 'pip_1')).toEqual({
      pipe: { id: 'pip_1', name: 'to-meta' },
      destination: { id: 'dst_1', name: 'renamed' },
    });
    expect(incidentKey('ch_1', { type: 'pipe', id: 'pip_1' })).toBe('alerts:incident:ch_1:pipe:pip_1');
  });
});
