/**
 * A transform test run: a pipe's transform (its current one, or code being edited) run in the
 * production sandbox against given events or the events of the pipe's newest deliveries. Nothing
 * is delivered, stored or changed. Outputs, errors and console lines are redacted like delivery
 * records (user code can echo a secret it was given).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ConfigCache } from './config.js';
import type { ProfilesResolver } from './deliver.js';
import { PipesError } from './errors.js';
import type { PipesRegistry } from './registries/pipes.js';
import type { SecretResolver } from './registries/secrets.js';
import type { Sandbox, SandboxEvent } from './sandbox/types.js';
import { consoleLineSchema, incomingEventSchema } from './schemas.js';
import { createRedactor, type Redactor } from './secrets/redact.js';
import type { Store } from './store.js';
import { parseOrThrow } from './validation.js';

/**
 * What to run: `transform` (default: the pipe's current one) against `events`, or against the
 * events of the pipe's `recent` newest deliveries.
 *
 * @example
 * ```ts
 * transformTestInputSchema.parse({ transform: 'function transform({ events }) { return events; }', recent: 5 });
 * ```
 */
export const transformTestInputSchema = z
  .strictObject({
    transform: z
      .string()
      .min(1)
      .max(512 * 1024)
      .optional()
      .describe("The code to run; default the pipe's current transform."),
    events: z.array(incomingEventSchema).min(1).max(100).optional().describe('Events to run it on.'),
    recent: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe("Instead of `events`: the events of the pipe's newest N deliveries."),
  })
  .refine((input) => (input.events === undefined) !== (input.recent === undefined), {
    message: 'give either events or recent',
    path: ['events'],
  });
export type TransformTestInput = z.input<typeof transformTestInputSchema>;

export const transformTestResultSchema = z.object({
  results: z.array(
    z.object({
      event_id: z.string().nullable(),
      output: z
        .array(z.unknown())
        .nullable()
        .describe('What the transform returned for this event; [] = filtered.'),
      filter_reason: z
        .string()
        .optional()
        .describe(
          'Filtered events only: the reason the transform gave ({ filter_reason }), or "transform" when it returned nothing. The pipe\'s consent requirement is not applied here.',
        ),
      error: z
        .object({
          code: z.string(),
          message: z.string(),
          line: z.number().int().optional(),
          column: z.number().int().optional(),
        })
        .nullable(),
    }),
  ),
  logs: z.array(consoleLineSchema),
  duration_ms: z.number(),
});
export type TransformTestResult = z.infer<typeof transformTestResultSchema>;

export interface TransformTestApi {
  /** Runs a transform for a pipe without delivering anything. Throws `NOT_FOUND`, `VALIDATION_FAILED`. */
  test(pipeId: string, input: TransformTestInput): Promise<TransformTestResult>;
}

/** What running a pipe's transform outside delivery needs (the deliveries API's dry run needs it too). */
export interface TransformTestDeps {
  store: Store;
  config: ConfigCache;
  pipes: PipesRegistry;
  sandbox: Sandbox;
  resolveSecrets: SecretResolver;
  /** The redactor for a destination's current secret values (cached, with retired values); default createRedactor. */
  redactorFor?: (current: Record<string, string>) => Promise<Redactor>;
  /** The `profiles` of transform calls (identity on: stitched as delivery does). */
  profiles?: ProfilesResolver;
}

export function createTransformTestApi(deps: TransformTestDeps): TransformTestApi {
  return {
    async test(pipeId, raw) {
      const input = parseOrThrow(transformTestInputSchema, raw, 'transform test');
      const pipe = await deps.pipes.get(pipeId);
      const code = input.transform ?? pipe.transform;
      let events: SandboxEvent[];
      if (input.events) {
        // As ingest does, an event without the sender's id gets one (here a readable test id).
        events = input.events.map((e, i) => ({ ...e, event_id: e.event_id ?? `test_${i + 1}` }));
      } else {
        const rows = await deps.store.listDeliveries({ pipeId, limit: input.recent! });
        const stored = await Promise.all(rows.map((r) => deps.store.getEvent({ id: r.event_ref })));
        events = stored.flatMap((e) =>
          e
            ? [
                {
                  event_type: e.event_type,
                  event_time: e.event_time,
                  event_payload: e.event_payload,
                  event_id: e.event_id,
                },
              ]
            : [],
        );
        if (events.length === 0) {
          throw new PipesError({
            code: 'VALIDATION_FAILED',
            message:
              'invalid transform test: this pipe has no recent deliveries whose events are kept; give events',
            details: { issues: [{ path: 'recent', message: 'no recent events' }] },
          });
        }
      }
      const destination = (await deps.config.current()).destinations.get(pipe.destination_id);
      const secrets = await deps.resolveSecrets(destination?.secret_ids ?? []);
      const redact = deps.redactorFor ? await deps.redactorFor(secrets) : createRedactor(secrets);
      if (code === null) {
        return {
          results: events.map((e) => ({ event_id: e.event_id ?? null, output: redact([e]), error: null })),
          logs: [],
          duration_ms: 0,
        };
      }
      // Test code never shares a warm context with the pipe's real one: its own owner, by content.
      const digest = createHash('sha256').update(code).digest('hex').slice(0, 16);
      const run = await deps.sandbox.transform({
        code: { kind: 'transform', owner: `test:${pipe.id}:${digest}`, version: 1, code },
        events,
        // Stitched as delivery would (identity on), so a test run shows what a delivery would send.
        profiles: deps.profiles ? ((await deps.profiles({ pipe, events })) ?? {}) : {},
        secrets,
      });
      return {
        results: events.map((e, i) => {
          const result = run.results[i];
          const failure = result && !result.ok ? result.error : null;
          return {
            event_id: e.event_id ?? null,
            output: result?.ok ? redact(result.outputs) : null,
            ...(result?.ok && result.outputs.length === 0
              ? { filter_reason: result.filter_reason ?? 'transform' }
              : {}),
            error: failure
              ? redact({
                  code: failure.code,
                  message: failure.message,
                  ...(failure.line !== undefined ? { line: failure.line } : {}),
                  ...(failure.column !== undefined ? { column: failure.column } : {}),
                })
              : null,
          };
        }),
        logs: redact(run.logs),
        duration_ms: run.durationMs,
      };
    },
  };
}
