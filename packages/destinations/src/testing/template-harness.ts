/**
 * The checks every template passes, in one place: settings validation, batching at the platform's
 * limit, the error classes (permanent, transient, 429 with its hint), test mode, and its secrets kept
 * out of records. A template's test file calls {@link runTemplateHarness} once with its stand-in and
 * the platform's own error answers, and keeps only what is particular to the platform.
 */
import { type Delivery, PipesError } from '@openpipes/core';
import { runSend, runTransform, type TestResponse } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import type { DefinedTemplate } from '../define-template.js';
import { finalRecords, finalRecordsById, type platformBed, recordsWhere, secretsIn } from './engine.js';
import { type StandInHandler, standInFetch } from './golden.js';

/** What the harness needs of a stand-in (every one in platforms.ts has it). */
export interface HarnessStandIn {
  handler: StandInHandler;
  violations: string[];
  answerNext(...answers: TestResponse[]): void;
}

/** A canonical event as a sender posts it. */
export interface HarnessEvent {
  event_type: string;
  event_id: string;
  event_time: string;
  event_payload: Record<string, unknown>;
}

export interface TemplateHarnessCase {
  // biome-ignore lint/suspicious/noExplicitAny: any settings schema
  template: DefinedTemplate<any>;
  /** Valid settings whose requests go to `baseUrl` (the stand-in). */
  settings(baseUrl: string): Record<string, unknown>;
  /** A value for every secret the template lists. */
  secrets: Record<string, string>;
  standIn(): HarnessStandIn;
  /** A canonical event the template delivers, with raw personal data. */
  event(id: string): HarnessEvent;
  /** Raw personal data of {@link event} that must not reach a record (besides the secrets). */
  personalData?: string[];
  /** Settings that must be refused, each with the field the error names. */
  badSettings: Array<{ settings: Record<string, unknown>; field: string }>;
  /** The platform's answer to a request it will never accept; the record names `field`. */
  permanent: { answer: TestResponse; code: string; field: string };
  /** The platform's answer to a request worth retrying. */
  transient: { answer: TestResponse; code: string };
  /** The platform's throttling answer (HTTP 429); the harness adds `Retry-After`. */
  rateLimited: TestResponse;
  /** Dispatcher options for the engine cases (e.g. a larger `maxClaim`). */
  dispatcher?: { maxClaim?: number };
  /**
   * The filter reason the default transform records for an event type it does not map
   * (`event_type_not_mapped` unless given); `null` for a template that maps no event types.
   */
  unmappedReason?: string | null;
}

/**
 * Registers the shared template checks in the calling test file. Pass the file's `platformBed()`.
 *
 * @example
 * ```ts
 * const bed = platformBed();
 * runTemplateHarness(bed, {
 *   template: metaCapiTemplate,
 *   settings: (baseUrl) => ({ pixel_id: pixelId, base_url: baseUrl }),
 *   secrets: { META_ACCESS_TOKEN: token },
 *   standIn: () => metaPlatform({ pixelId, token }),
 *   event: (id) => canonicalPurchase(id),
 *   badSettings: [{ settings: { pixel_id: 'abc' }, field: 'pixel_id' }],
 *   permanent: { answer: metaError(100, 'Invalid parameter: user_data'), code: 'META_100', field: 'user_data' },
 *   transient: { answer: metaError(2, 'Service temporarily unavailable', { status: 503 }), code: 'META_2' },
 *   rateLimited: metaError(17, 'User request limit reached', { status: 429 }),
 * });
 * ```
 */
// long-function: the shared template checks: one list of it() cases over the template and platform bed given
export function runTemplateHarness(bed: ReturnType<typeof platformBed>, c: TemplateHarnessCase): void {
  const name = c.template.name;
  const secretValues = Object.values(c.secrets);
  const leaks = [...secretValues, ...(c.personalData ?? [])];

  // long-function: the shared template checks: one list of it() cases over the template and platform bed given
  describe(`${name}: the shared template checks`, () => {
    it('refuses bad settings with VALIDATION_FAILED naming the field', () => {
      const valid = c.settings('https://platform.example');
      const cases = [
        ...c.badSettings,
        // Above the platform's limit.
        { settings: { max_batch_size: c.template.maxBatchSize + 1 }, field: 'max_batch_size' },
      ];
      for (const bad of cases) {
        let error: unknown;
        try {
          c.template.create({ ...valid, ...bad.settings });
        } catch (err) {
          error = err;
        }
        expect(error, JSON.stringify(bad.settings)).toBeInstanceOf(PipesError);
        const e = error as PipesError;
        expect(e.code).toBe('VALIDATION_FAILED');
        expect(e.message).toContain(bad.field);
        const paths = (e.details as { issues: Array<{ path: string }> }).issues.map((i) => i.path);
        expect(paths).toContain(bad.field);
      }
      const definition = c.template.create(valid);
      expect(definition.destination.max_batch_size).toBeLessThanOrEqual(c.template.maxBatchSize);
      expect(definition.requiredSecrets.map((s) => s.key).sort()).toEqual(Object.keys(c.secrets).sort());
    });

    it('says which secret to bind when one is missing', async () => {
      const definition = c.template.create(c.settings('https://platform.example'));
      const events = await runTransform(definition.transform, { events: [c.event('ord_secretless')] });
      for (const key of Object.keys(c.secrets)) {
        const { [key]: _missing, ...others } = c.secrets;
        await expect(
          runSend(definition.destination.send, {
            events,
            secrets: others,
            fetch: standInFetch(c.standIn().handler),
          }),
        ).rejects.toThrowError(new RegExp(`bind a secret named ${key}`));
      }
    });

    it(`splits ${c.template.maxBatchSize + 1} events into requests the platform accepts`, async () => {
      const standIn = c.standIn();
      const definition = c.template.create(c.settings('https://platform.example'));
      const count = c.template.maxBatchSize + 1;
      const events = await runTransform(definition.transform, {
        events: Array.from({ length: count }, (_, i) => c.event(`ord_batch_${i}`)),
      });
      expect(events).toHaveLength(count);
      const { value, exchanges } = await runSend(definition.destination.send, {
        events,
        secrets: c.secrets,
        fetch: standInFetch(standIn.handler),
      });
      expect(standIn.violations).toEqual([]);
      expect(value).toMatchObject({ outcome: 'delivered', test_mode: false });
      expect(exchanges.filter((x) => x.response && x.response.status < 300).length).toBeGreaterThanOrEqual(2);
    }, 60_000);

    it('delivers; a permanent error fails once naming the field; a transient one is retried; 429 waits for its hint', async () => {
      const { platform, pipes, pipe } = await bed.wire(
        c.standIn(),
        c.template.create(c.settings(bed.server.url)),
        { secrets: c.secrets, retry: { max_attempts: 3, initial_delay_ms: 20, multiplier: 1 } },
        c.dispatcher,
      );
      const records: Delivery[] = [];
      const one = async (id: string, count: number) => {
        await pipes.ingest('web', [c.event(id)]);
        const all = await finalRecords(pipes, pipe.id, count);
        const record = all.find((d) => d.event_id === id)!;
        records.push(record);
        return record;
      };

      const delivered = await one('ord_ok', 1);
      expect(delivered).toMatchObject({
        status: 'delivered',
        test_mode: false,
        attempt_count: 1,
        error: null,
      });

      platform.answerNext(c.permanent.answer);
      const permanent = await one('ord_permanent', 2);
      expect(permanent).toMatchObject({
        status: 'failed',
        attempt_count: 1,
        error: { code: c.permanent.code, retryable: false },
      });
      expect(permanent.error!.message).toContain(c.permanent.field);

      platform.answerNext(c.transient.answer);
      const transient = await one('ord_transient', 3);
      expect(transient).toMatchObject({ status: 'delivered', attempt_count: 2, error: null });
      expect(transient.attempts![0]!.error).toMatchObject({ code: c.transient.code, retryable: true });

      // Retry-After far beyond the policy's 20 ms: the next attempt is scheduled after the hint.
      platform.answerNext({
        ...c.rateLimited,
        status: 429,
        headers: { ...c.rateLimited.headers, 'retry-after': '120' },
      });
      await pipes.ingest('web', [c.event('ord_throttled')]);
      const waiting = await recordsWhere(pipes, pipe.id, (all) =>
        all.some((d) => d.event_id === 'ord_throttled' && d.status === 'retrying'),
      );
      const throttled = await pipes.deliveries.get(waiting.find((d) => d.event_id === 'ord_throttled')!.id);
      records.push(throttled);
      expect(throttled.error).toMatchObject({ retryable: true });
      const startedAt = Date.parse(throttled.attempts![0]!.started_at);
      expect(Date.parse(throttled.next_attempt_at!) - startedAt).toBeGreaterThanOrEqual(120_000);

      expect(platform.violations).toEqual([]);
      expect(secretsIn(records, leaks)).toEqual([]);
    }, 60_000);

    const unmappedReason = c.unmappedReason === undefined ? 'event_type_not_mapped' : c.unmappedReason;
    if (unmappedReason !== null) {
      it('records an event of a type it does not map as filtered, even a type named like an Object property', async () => {
        const { platform, pipes, pipe } = await bed.wire(
          c.standIn(),
          c.template.create(c.settings(bed.server.url)),
          {
            secrets: c.secrets,
            retry: { max_attempts: 1 },
          },
        );
        // Valid event type names; a mapping table that is a plain object inherits these two.
        const unmapped = ['not_a_platform_event', 'constructor', 'toString'];
        for (const name of unmapped) await pipes.eventTypes.create({ name });
        await pipes.ingest('web', [
          c.event('ord_mapped'),
          ...unmapped.map((name) => ({ ...c.event(`ord_${name}`), event_type: name })),
        ]);
        const records = await finalRecordsById(pipes, pipe.id, 1 + unmapped.length);
        expect(records.get('ord_mapped')).toMatchObject({ status: 'delivered', filter_reason: null });
        for (const name of unmapped) {
          expect(records.get(`ord_${name}`), name).toMatchObject({
            status: 'filtered',
            filter_reason: unmappedReason,
          });
        }
        expect(platform.violations).toEqual([]);
      });
    }

    const testMode = c.template.testModeSpec;
    if ('settings' in testMode) {
      it('marks every delivery made in test mode test_mode: true', async () => {
        const { platform, pipes, pipe } = await bed.wire(
          c.standIn(),
          c.template.create({ ...c.settings(bed.server.url), ...testMode.settings }),
          { secrets: c.secrets, retry: { max_attempts: 1 } },
          c.dispatcher,
        );
        await pipes.ingest('web', [c.event('ord_test_1'), c.event('ord_test_2')]);
        const records = await finalRecords(pipes, pipe.id, 2);
        expect(platform.violations).toEqual([]);
        expect(records.map((r) => [r.status, r.test_mode])).toEqual([
          ['delivered', true],
          ['delivered', true],
        ]);
        expect(secretsIn(records, leaks)).toEqual([]);
      });
    } else {
      it('refuses test-mode settings: the platform has none', () => {
        expect(() =>
          c.template.create({ ...c.settings('https://platform.example'), test_event_code: 'TEST1' }),
        ).toThrowError(testMode.unsupported);
      });
    }
  });
}
