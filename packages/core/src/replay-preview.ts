/**
 * A replay's dry run: the deliveries a replay would take, and what the pipe's consent requirement
 * and transform make of their events, redacted; nothing is sent and nothing changes.
 */
import type { SandboxEvent } from '@openpipes/sandbox';
import { checkConsent } from './consent/requirement.js';
import type { ReplayOptions, ReplayResult } from './deliveries.js';
import { PipesError } from './errors.js';
import type { Pipe } from './schemas.js';
import { createRedactor } from './secrets/redact.js';
import type { DeliveryRow, Store } from './store.js';
import type { TransformTestDeps } from './transform-test.js';

/** The deliveries a replay with these options takes, without erased ones, at most `limit`. */
export async function findReplayRows(
  store: Store,
  pipeId: string,
  options: ReplayOptions & { statuses: NonNullable<ReplayOptions['statuses']>; limit: number },
): Promise<DeliveryRow[]> {
  const { statuses, limit } = options;
  const rows: DeliveryRow[] = [];
  let cursor: string | undefined;
  while (rows.length < limit) {
    const batch = await store.listDeliveries({
      pipeId,
      status: statuses,
      since: options.since,
      until: options.until,
      cursor,
      limit: Math.min(500, limit - rows.length),
    });
    // An erased person's records have no event to run: a real replay skips them too.
    rows.push(...batch.filter((r) => !r.detail.erased_at && (!options.ids || options.ids.includes(r.id))));
    if (batch.length === 0) break;
    cursor = batch[batch.length - 1]!.id;
  }
  return rows;
}

type Preview = NonNullable<ReplayResult['preview']>;

/** What delivery would make of each row's event: filtered by consent, passed through, or transformed. */
export async function previewReplay(
  deps: TransformTestDeps,
  runPipe: Pipe,
  destinationId: string,
  rows: DeliveryRow[],
): Promise<Preview> {
  const destination = (await deps.config.current()).destinations.get(destinationId);
  const secrets = await deps.resolveSecrets(destination?.secret_ids ?? []);
  const redact = deps.redactorFor ? await deps.redactorFor(secrets) : createRedactor(secrets);
  const events = await Promise.all(rows.map((r) => eventOf(deps.store, r)));
  const preview: Preview = [];
  // As delivery does: the pipe's consent requirement first, then the transform for the rest.
  const allowed: number[] = [];
  rows.forEach((row, i) => {
    if (checkConsent(runPipe.consent, events[i]!.event_payload).met) allowed.push(i);
    else
      preview[i] = {
        id: row.id,
        event_id: row.event_id,
        output: null,
        error: null,
        filter_reason: 'consent',
      };
  });
  if (runPipe.transform === null) {
    // Pass-through previews what delivery sends: the event as it came in, event_id included.
    for (const i of allowed) {
      const row = rows[i]!;
      preview[i] = {
        id: row.id,
        event_id: row.event_id,
        output: redact([events[i]!]),
        error: null,
        filter_reason: null,
      };
    }
  } else if (allowed.length > 0) {
    const input = allowed.map((i) => events[i]!);
    const run = await deps.sandbox.transform({
      code: { kind: 'transform', owner: runPipe.id, version: runPipe.version, code: runPipe.transform },
      events: input,
      profiles: deps.profiles ? ((await deps.profiles({ pipe: runPipe, events: input })) ?? {}) : {},
      secrets,
    });
    allowed.forEach((i, k) => {
      const row = rows[i]!;
      const result = run.results[k];
      const filtered = result?.ok && result.outputs.length === 0;
      preview[i] = {
        id: row.id,
        event_id: row.event_id,
        output: result?.ok ? redact(result.outputs) : null,
        error:
          result && !result.ok
            ? redact({
                code: result.error.code,
                message: result.error.message,
                retryable: false,
                stage: 'transform' as const,
              })
            : null,
        filter_reason: filtered ? (result.filter_reason ?? 'transform') : null,
      };
    });
  }
  return preview;
}

async function eventOf(store: Store, row: DeliveryRow): Promise<SandboxEvent> {
  const event = await store.getEvent({ id: row.event_ref });
  if (!event) {
    throw new PipesError({
      code: 'NOT_FOUND',
      message: `event ${row.event_ref} of delivery ${row.id} was pruned`,
    });
  }
  return {
    event_type: event.event_type,
    event_time: event.event_time,
    event_payload: event.event_payload,
    event_id: event.event_id,
  };
}
