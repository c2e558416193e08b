/**
 * The rejection log end to end on a real engine: an event refused at collect is kept for its
 * source with the errors the collect answer gave, the event cut to the size limit, at most
 * `perSource` per source, pruned by retention, and a store that cannot write the log never fails
 * the collect call. Every store runs it (through `runEngineSuites`).
 */
import { describe, expect, it } from 'vitest';
import type { Logger } from '../logger.js';
import type { IncomingEvent } from '../schemas.js';
import type { EngineConformanceOptions } from './engine.js';
import { engineHarness } from './harness.js';

const now = () => new Date().toISOString();
/** Garbage a hostile sender posts: not events at all (ingest takes it as a parsed body would come). */
const garbage = (values: unknown[]) => values as IncomingEvent[];

// long-function: one list of it() cases sharing the engine harness set up at its top; every store runs it, the engine's executable spec
export function runEngineRejections(options: EngineConformanceOptions): void {
  describe(`rejection log on ${options.name}`, () => {
    const h = engineHarness(options, { prefix: 'rejections' });

    const setup = async (extra: Parameters<typeof h.engine>[1] = {}) => {
      const pipes = await h.engine(h.dbName(), extra);
      const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.eventTypes.create({
        name: 'purchase',
        schema: { type: 'object', required: ['value'], properties: { value: { type: 'number' } } },
      });
      return { pipes, source };
    };

    it('keeps refused events with their errors, newest first, beside the accepted ones', async () => {
      const { pipes, source } = await setup();
      const good = { event_type: 'purchase', event_time: now(), event_payload: { value: 5 } };
      const badPayload = { event_type: 'purchase', event_time: now(), event_payload: { value: 'x' } };
      const unknownType = { event_type: 'nope', event_time: now(), event_payload: {} };
      const result = await pipes.ingest('web', [good, badPayload, unknownType]);
      expect(result.accepted).toBe(1);
      const rejected = result.results.filter((r) => r.status === 'rejected');

      const log = await pipes.sources.rejections(source.id);
      expect(log.data).toHaveLength(2);
      expect(log.data.map((r) => r.error)).toEqual(rejected.map((r) => r.error).reverse());
      expect(JSON.parse(log.data[0]!.event)).toEqual(unknownType);
      expect(log.data[0]!.truncated).toBe(false);

      const events = await pipes.sources.events(source.id);
      expect(events.data.map((e) => e.event_payload)).toEqual([{ value: 5 }]);
    });

    it('cuts a huge event to the size limit and keeps at most perSource per source', async () => {
      const { pipes, source } = await setup({ rejections: { perSource: 5, maxEventBytes: 64 } });
      const huge = {
        event_type: 'purchase',
        event_time: now(),
        event_payload: { value: 'é'.repeat(100_000) },
      };
      await pipes.ingest('web', huge);
      const [entry] = (await pipes.sources.rejections(source.id)).data;
      expect(entry!.truncated).toBe(true);
      expect(Buffer.byteLength(entry!.event, 'utf8')).toBeLessThanOrEqual(64);
      expect(entry!.event.startsWith('{"event_type":"purchase"')).toBe(true);

      // A flood: 3 requests of 4 garbage events each leave the newest 5.
      for (let i = 0; i < 3; i++)
        await pipes.ingest('web', garbage([1, 2, 3, 4].map((n) => ({ n: i * 10 + n }))));
      const log = await pipes.sources.rejections(source.id, { limit: 100 });
      expect(log.data.map((r) => JSON.parse(r.event).n)).toEqual([24, 23, 22, 21, 14]);
    });

    it('pages with a cursor and refuses a cursor of another kind', async () => {
      const { pipes, source } = await setup();
      await pipes.ingest('web', garbage([{ a: 1 }, { a: 2 }, { a: 3 }]));
      const first = await pipes.sources.rejections(source.id, { limit: 2 });
      expect(first.data).toHaveLength(2);
      const second = await pipes.sources.rejections(source.id, { limit: 2, cursor: first.next_cursor! });
      expect(second.data.map((r) => JSON.parse(r.event))).toEqual([{ a: 1 }]);
      expect(second.next_cursor).toBeNull();
      await expect(pipes.sources.rejections(source.id, { cursor: source.id })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
      await expect(pipes.sources.events('src_01ARZ3NDEKTSV4RRFFQ69G5FAV')).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    });

    it('answers ingest for an event it cannot even write as text (null prototype, a bigint)', async () => {
      const { pipes, source } = await setup();
      // An embedder's own object: JSON.stringify throws on the bigint, String() on the missing prototype.
      const odd = Object.assign(Object.create(null) as Record<string, unknown>, { value: 1n });
      const result = await pipes.ingest(
        'web',
        garbage([{ event_type: 'purchase', event_time: now(), event_payload: { value: 1 } }, odd]),
      );
      expect(result).toMatchObject({ accepted: 1, rejected: 1 });
      const log = await pipes.sources.rejections(source.id);
      expect(log.data).toHaveLength(1);
      expect(log.data[0]!.error.code).toBe('VALIDATION_FAILED');
    });

    it('bounds the stored error in bytes, not only in characters, however hostile its field names', async () => {
      const { pipes, source } = await setup();
      // Unknown fields are reported at their own path: 30 names of 500 control characters, each
      // written as six bytes (\u0001) in the stored JSON.
      const event: Record<string, unknown> = { event_type: 'purchase', event_time: now(), event_payload: {} };
      for (let i = 0; i < 30; i++) event[`${'\u0001'.repeat(500)}${i}`] = 1;
      await pipes.ingest('web', garbage([event]));
      const [entry] = (await pipes.sources.rejections(source.id)).data;
      expect(entry!.error.code).toBe('VALIDATION_FAILED');
      expect(entry!.error.issues.length).toBeGreaterThan(0);
      expect(Buffer.byteLength(JSON.stringify(entry!.error), 'utf8')).toBeLessThanOrEqual(4096);
      expect(Buffer.byteLength(entry!.event, 'utf8')).toBeLessThanOrEqual(4096);
    });

    it('answers an event with thousands of issues with at most 100 of them, the message counting all', async () => {
      const { pipes } = await setup();
      const event: Record<string, unknown> = { event_type: 'purchase', event_time: now(), event_payload: {} };
      for (let i = 0; i < 5000; i++) event[`k${i}`] = 1;
      const result = await pipes.ingest('web', garbage([event]));
      const [refused] = result.results;
      if (refused?.status !== 'rejected') throw new Error('expected a rejection');
      expect(refused.error.issues).toHaveLength(100);
      expect(refused.error.issues[0]).toEqual({ path: 'k0', message: expect.any(String) });
      expect(refused.error.message).toContain('(and 4997 more)');
    });

    it('answers collect when the log cannot be written, and says so in the log', async () => {
      const warnings: string[] = [];
      const logger: Logger = {
        debug() {},
        info() {},
        error() {},
        warn(fields, message) {
          warnings.push(typeof fields === 'string' ? fields : String(message));
        },
      };
      const { pipes } = await setup({ logger });
      pipes.store.appendRejections = async () => {
        throw new Error('disk on fire');
      };
      const result = await pipes.ingest(
        'web',
        garbage([{ event_type: 'purchase', event_time: now(), event_payload: { value: 1 } }, { junk: true }]),
      );
      expect(result).toMatchObject({ accepted: 1, rejected: 1 });
      expect(warnings).toContain('could not write the rejection log');
    });
  });
}
