/**
 * A destination's `send()` run outside delivery, in the production sandbox: a **dry run**, where
 * every `fetch` is recorded and answered with a synthetic `200 {}` (no connection is opened: the
 * sandbox hands each request to a substituted fetch instead of the egress-guarded transport), or a
 * **test send** through the platform's test mode (a template's `testMode`), which goes out for real.
 * Nothing is stored. Requests, the value `send()` returned, errors and console lines are redacted
 * like delivery records: user code can echo a secret, split or encoded.
 */
import { z } from 'zod';
import { classifySend } from './classify.js';
import type { ProfilesResolver } from './deliver.js';
import { PipesError } from './errors.js';
import { parseExchange, recordExchange, recordLogs } from './record.js';
import type { DestinationsRegistry } from './registries/destinations.js';
import type { PipesRegistry } from './registries/pipes.js';
import type { SecretResolver } from './registries/secrets.js';
import type { FetchLike, Sandbox, SandboxEvent, SendRun } from './sandbox/types.js';
import { consoleLineSchema, incomingEventSchema, recordedExchangeSchema } from './schemas.js';
import { createRedactor, type Redactor } from './secrets/redact.js';
import type { DestinationTemplate } from './templates.js';
import { parseOrThrow } from './validation.js';

/**
 * What to send: `outputs` as a transform would give them to `send()`, or `events` run through
 * `pipe_id`'s transform first; `mode` `dry` (recorded, answered with a synthetic 200) or `test`
 * (the platform's test mode, for real).
 *
 * @example
 * ```ts
 * sendTestInputSchema.parse({ mode: 'dry', outputs: [{ event_type: 'Purchase', event_time: '2026-01-01T00:00:00Z', event_payload: {} }] });
 * ```
 */
export const sendTestInputSchema = z
  .strictObject({
    mode: z
      .enum(['dry', 'test'])
      .describe(
        '`dry`: every fetch is recorded and answered with a synthetic 200 `{}`, nothing leaves the server. `test`: sent for real in the platform test mode of the destination template.',
      ),
    outputs: z
      .array(z.record(z.string(), z.unknown()))
      .min(1)
      .max(100)
      .optional()
      .describe('What `send()` gets as `events` (a transform output).'),
    events: z
      .array(incomingEventSchema)
      .min(1)
      .max(100)
      .optional()
      .describe("Instead of `outputs`: events, run through `pipe_id`'s transform first."),
    pipe_id: z
      .string()
      .optional()
      .describe('With `events`: the pipe (to this destination) whose transform runs.'),
    test_event_code: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .describe('Test mode of templates that need one (Meta, TikTok): the code from Events Manager.'),
  })
  .refine((input) => (input.outputs === undefined) !== (input.events === undefined), {
    message: 'give either outputs or events',
    path: ['outputs'],
  })
  .refine((input) => input.events === undefined || input.pipe_id !== undefined, {
    message: 'events need the pipe_id whose transform runs them',
    path: ['pipe_id'],
  });
export type SendTestInput = z.input<typeof sendTestInputSchema>;

/** The text every dry-run answer carries, so no one takes a synthetic answer for the platform's. */
export const dryRunNote =
  'Dry run: every request was recorded and answered with a synthetic 200 {}; nothing was sent.';

export const sendTestResultSchema = z.object({
  mode: z.enum(['dry', 'test']),
  synthetic: z
    .boolean()
    .describe('True in a dry run: the responses shown are synthetic, not the platform’s.'),
  note: z.string(),
  outputs: z.array(z.unknown()).describe('What `send()` was given (redacted).'),
  requests: z.array(recordedExchangeSchema).describe('Every request `send()` made, in order (redacted).'),
  value: z.unknown().optional().describe('What `send()` returned (redacted).'),
  error: z.object({ code: z.string(), message: z.string(), line: z.number().int().optional() }).nullable(),
  outcome: z
    .array(z.enum(['delivered', 'failed', 'retry']))
    .describe('Per output, what a delivery would have recorded (a dry run: against the synthetic answers).'),
  test_mode: z.boolean().describe('`send()` reported the platform test mode.'),
  logs: z.array(consoleLineSchema),
  duration_ms: z.number(),
});
export type SendTestResult = z.infer<typeof sendTestResultSchema>;

export interface SendTestApi {
  /**
   * Runs a destination's `send()` as {@link sendTestInputSchema} says. `templates` are the ones the
   * caller offers (core owns none): a test send needs the destination's template among them with a
   * `testMode`. Throws `NOT_FOUND`, `VALIDATION_FAILED` (bad input, a transform that failed, a
   * missing test event code) and `CONFLICT` (no test mode for this destination).
   */
  run(
    destinationId: string,
    input: SendTestInput,
    templates?: DestinationTemplate[],
  ): Promise<SendTestResult>;
}

export interface SendTestDeps {
  destinations: DestinationsRegistry;
  pipes: PipesRegistry;
  sandbox: Sandbox;
  resolveSecrets: SecretResolver;
  redactorFor?: (current: Record<string, string>) => Promise<Redactor>;
  profiles?: ProfilesResolver;
}

/**
 * The sandbox's code owner of a send test: one per destination (or pipe), so the pool's fair share,
 * its usage order and its isolation of code that spins apply to send tests as to deliveries. A new
 * owner per call (as before) made every call look like a newcomer that goes first and is never
 * suspect, so a write key looping send tests of spinning code took the workers from real deliveries.
 * The version is new on every call instead: a context is never reused, so a dry run's synthetic
 * answers (a cached token) never reach a later run.
 */
let runs = 0;
const sendTestCode = (kind: 'send' | 'transform', ownerId: string, code: string) => ({
  kind,
  owner: `send-test:${ownerId}`,
  version: ++runs,
  code,
});

/** Answers every request of a dry run without opening a connection. */
const syntheticFetch: FetchLike = async () =>
  new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });

export function createSendTestApi(deps: SendTestDeps): SendTestApi {
  return {
    async run(destinationId, raw, templates = []) {
      const input = parseOrThrow(sendTestInputSchema, raw, 'send test');
      const destination = await deps.destinations.get(destinationId);
      const secrets = await deps.resolveSecrets(destination.secret_ids);
      const redact = deps.redactorFor ? await deps.redactorFor(secrets) : createRedactor(secrets);
      const code = input.mode === 'test' ? testModeCode(destination, input, templates) : destination.send;
      const outputs = input.outputs
        ? (input.outputs as unknown as SandboxEvent[])
        : await transformed(deps, destinationId, input.pipe_id!, input.events!, secrets, redact);
      let run: SendRun;
      try {
        run = await deps.sandbox.send({
          // A fresh context every time: a warm one may hold state (a cached OAuth token) from real
          // sends, and a dry run's synthetic answers must never reach a context real sends use.
          code: sendTestCode('send', destination.id, code),
          events: outputs,
          secrets,
          ...(input.mode === 'dry' ? { options: { fetch: syntheticFetch } } : {}),
        });
      } catch (err) {
        run = {
          error: { code: 'WORKER_CRASHED', message: (err as Error).message },
          exchanges: [],
          logs: [],
          durationMs: 0,
        };
      }
      const classification = classifySend(run, outputs.length, Date.now());
      const all = outputs.map((_, i) => i);
      const requests = run.exchanges.map((exchange) =>
        recordExchange(parseExchange(exchange, redact), outputs.length, all, redact),
      );
      const error = run.error
        ? redact({
            code: run.error.code,
            message: run.error.message,
            ...(run.error.line !== undefined ? { line: run.error.line } : {}),
          })
        : null;
      return {
        mode: input.mode,
        synthetic: input.mode === 'dry',
        note:
          input.mode === 'dry'
            ? dryRunNote
            : "Test send: the requests went to the platform in its test mode; the responses are the platform's.",
        outputs: redact(outputs),
        requests,
        ...(run.value !== undefined ? { value: redact(run.value) } : {}),
        error,
        outcome: classification.events.map((e) => e.verdict),
        test_mode: classification.testMode,
        logs: recordLogs(run.logs, redact),
        duration_ms: run.durationMs,
      };
    },
  };
}

/**
 * The `send()` of the destination's template made again with its test mode on. A destination with
 * its own code has no known test mode: the platform behind it is the code's business.
 */
function testModeCode(
  destination: { name: string; template?: { name: string; settings: Record<string, unknown> } | undefined },
  input: z.output<typeof sendTestInputSchema>,
  templates: DestinationTemplate[],
): string {
  const template = destination.template
    ? templates.find((t) => t.name === destination.template!.name)
    : undefined;
  if (!destination.template || !template?.testMode) {
    const why = !destination.template
      ? 'its send() is its own code, not a template with a test mode'
      : `its template "${destination.template.name}" ${template ? 'has no test mode' : 'is not offered by this server'}`;
    throw new PipesError({
      code: 'CONFLICT',
      message: `destination "${destination.name}" has no test mode: ${why}; use mode "dry"`,
    });
  }
  const { setting, needsValue } = template.testMode;
  let value: unknown = true;
  if (needsValue) {
    value = input.test_event_code ?? destination.template.settings[setting];
    if (value === undefined) {
      throw new PipesError({
        code: 'VALIDATION_FAILED',
        message: `invalid send test: test_event_code: ${template.testMode.description}`,
        details: { issues: [{ path: 'test_event_code', message: 'required by this template' }] },
      });
    }
  }
  return template.create({ ...destination.template.settings, [setting]: value }).destination.send;
}

/** `events` through the pipe's current transform, unredacted (they go to `send()`). */
async function transformed(
  deps: SendTestDeps,
  destinationId: string,
  pipeId: string,
  incoming: z.output<typeof incomingEventSchema>[],
  secrets: Record<string, string>,
  redact: Redactor,
): Promise<SandboxEvent[]> {
  const pipe = await deps.pipes.get(pipeId);
  if (pipe.destination_id !== destinationId) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: `invalid send test: pipe_id: pipe "${pipe.name}" does not deliver to this destination`,
      details: { issues: [{ path: 'pipe_id', message: 'not a pipe to this destination' }] },
    });
  }
  const events = incoming.map((e, i) => ({ ...e, event_id: e.event_id ?? `test_${i + 1}` }));
  if (pipe.transform === null) return events;
  const run = await deps.sandbox.transform({
    code: sendTestCode('transform', pipe.id, pipe.transform),
    events,
    profiles: deps.profiles ? ((await deps.profiles({ pipe, events })) ?? {}) : {},
    secrets,
  });
  const outputs: SandboxEvent[] = [];
  for (const result of run.results) {
    if (!result.ok) {
      throw new PipesError({
        code: 'VALIDATION_FAILED',
        message: redact.text(`invalid send test: the pipe's transform failed: ${result.error.message}`),
        details: { issues: [{ path: 'events', message: redact.text(result.error.message) }] },
      });
    }
    outputs.push(...result.outputs);
  }
  if (outputs.length === 0) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: "invalid send test: the pipe's transform filtered every event; nothing to send",
      details: { issues: [{ path: 'events', message: 'every event filtered' }] },
    });
  }
  return outputs;
}
