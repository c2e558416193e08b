/**
 * Match quality (docs/identifiers.md, "Match quality"): for each delivered event, which identifiers
 * the request that left carried (`stitched`: read from the transform's output at the paths the
 * destination declares) and which the event itself carried before stitching (`raw`: read from the
 * incoming event with the identifier table). The store adds them up per pipe and minute in the
 * transaction that records the outcome; `pipes.deliveries.matchQuality` reads the sums.
 */
import { z } from 'zod';
import { capturedBefore, captureIdentifiers } from './identity/capture.js';
import { IDENTIFIERS, type IdentifierKind } from './identity/identifiers.js';

/** Personal data the platforms take hashed that stitching never supplies (raw = what left). */
const PERSONAL_FIELDS = [
  'first_name',
  'last_name',
  'city',
  'state',
  'zip',
  'country',
  'gender',
  'date_of_birth',
] as const;

/**
 * Every identifier a destination may declare: the identity table's kinds, the personal fields, and
 * the last-seen attributes. A closed list, so metric labels stay bounded.
 */
export const MATCH_IDENTIFIERS = [
  ...IDENTIFIERS.map((spec) => spec.kind),
  ...PERSONAL_FIELDS,
  'ip',
  'user_agent',
] as readonly string[];

export type MatchIdentifier = IdentifierKind | (typeof PERSONAL_FIELDS)[number] | 'ip' | 'user_agent';

const matchIdentifierSet = new Set<string>(MATCH_IDENTIFIERS);
const stitchable = new Set<string>([...IDENTIFIERS.map((spec) => spec.kind), 'ip', 'user_agent']);

/**
 * One step of a path: a key, `key[]` (every item of a list) or `key[field=VALUE]` (the items of a
 * list whose `field` is VALUE, for lists of typed ids such as LinkedIn's
 * `userIds[idType=SHA256_EMAIL].idValue`).
 */
const pathStep = /^([A-Za-z0-9_$-]+)(?:\[\]|\[([A-Za-z0-9_]+)=([A-Za-z0-9_.:-]+)\])?$/;

/** A path into an output event's `event_payload`: `user_data.em`, `userIdentifiers[].hashedEmail`. */
const matchPath = z
  .string()
  .max(200)
  .refine((path) => {
    const steps = path.split('.');
    return steps.length <= 8 && steps.every((step) => pathStep.test(step));
  }, 'a dot-separated path: [] after a list, or [field=VALUE] to keep the items whose field is VALUE');

/**
 * A destination's declaration of where each identifier sits in the events its `send()` receives:
 * identifier -> paths into each output event's `event_payload`. Templates fill it; a custom
 * `send()` without it is "not measured".
 *
 * @example
 * ```ts
 * destinationIdentifiersSchema.parse({ email: ['user_data.em'], fbp: ['user_data.fbp'] });
 * ```
 */
export const destinationIdentifiersSchema = z
  .record(z.string(), z.array(matchPath).min(1).max(8))
  .superRefine((value, ctx) => {
    for (const key of Object.keys(value)) {
      if (!matchIdentifierSet.has(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `not an identifier: ${key}` });
      }
    }
  })
  .describe(
    'Where each identifier sits in the events send() receives: identifier -> paths into event_payload (`user_data.em`, `list[].field`). Without it, match quality is not measured.',
  );
export type DestinationIdentifiers = z.infer<typeof destinationIdentifiersSchema>;

/** What one delivered event carried: the identifiers before stitching and in the request that left. */
export interface MatchObservation {
  raw: string[];
  stitched: string[];
}

/** Whether a value counts as present: a non-empty string, a number, or a list holding one. */
function present(value: unknown): boolean {
  if (typeof value === 'string') return value.trim().length > 0;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.some(present);
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The values at a path (`a.b`, `list[].c`, `list[type=X].c`) of an object. */
function valuesAt(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const segment of path.split('.')) {
    const [, key = segment, field, wanted] = pathStep.exec(segment) ?? [];
    const list = segment.endsWith(']');
    const next: unknown[] = [];
    for (const item of current) {
      if (!item || typeof item !== 'object' || Array.isArray(item)) continue;
      const value = (item as Record<string, unknown>)[key];
      if (!list) {
        if (value !== undefined) next.push(value);
      } else if (Array.isArray(value)) {
        for (const element of value) {
          if (field === undefined || (isRecord(element) && element[field] === wanted)) next.push(element);
        }
      }
    }
    current = next;
  }
  return current;
}

/** The identifiers present in any of `outputs` (each a `{ event_payload }`), per the declaration. */
export function identifiersInOutputs(
  declared: DestinationIdentifiers,
  outputs: ReadonlyArray<{ event_payload?: unknown }>,
): string[] {
  const found: string[] = [];
  for (const [identifier, paths] of Object.entries(declared)) {
    if (outputs.some((o) => paths.some((path) => valuesAt(o.event_payload, path).some(present)))) {
      found.push(identifier);
    }
  }
  return found;
}

/**
 * What one delivered event carried, before and after stitching. `stitched` is read from what left;
 * `raw` from the incoming event by the identifier table (its fields, `page_url` and cookies), limited
 * to the declared identifiers. Identifiers stitching never supplies (first name, city, ...) count
 * as raw when they left: the event carried them. With identity on, the capture stitching made of the
 * same payload object is reused (so its junk policy applies) rather than made again.
 *
 * @example
 * ```ts
 * observeMatch({ email: ['user_data.em'] }, { user_id: 'u1' }, [{ event_payload: { user_data: { em: 'ab…' } } }]);
 * // { raw: [], stitched: ['email'] }
 * ```
 */
export function observeMatch(
  declared: DestinationIdentifiers,
  payload: Record<string, unknown>,
  outputs: ReadonlyArray<{ event_payload?: unknown }>,
  now = Date.now(),
): MatchObservation {
  const stitched = identifiersInOutputs(declared, outputs);
  // Stitching captured this payload object already when identity is on; capture it only otherwise.
  const captured = capturedBefore(payload) ?? captureIdentifiers(payload, { seenAt: now });
  const carried = new Set<string>(captured.identifiers.map((i) => i.kind));
  if (captured.attributes.ip) carried.add('ip');
  if (captured.attributes.user_agent) carried.add('user_agent');
  const raw = Object.keys(declared).filter((identifier) =>
    stitchable.has(identifier) ? carried.has(identifier) : stitched.includes(identifier),
  );
  return { raw, stitched };
}

/** One row of the rollup a store keeps: `*` counts the measured events themselves. */
export interface MatchCountRow {
  identifier: string;
  raw: number;
  stitched: number;
}

/** The rollup increments one observation makes: `*` (the event), then each identifier seen. */
export function matchIncrements(match: MatchObservation): MatchCountRow[] {
  const rows: MatchCountRow[] = [{ identifier: '*', raw: 1, stitched: 1 }];
  for (const identifier of new Set([...match.raw, ...match.stitched])) {
    rows.push({
      identifier,
      raw: match.raw.includes(identifier) ? 1 : 0,
      stitched: match.stitched.includes(identifier) ? 1 : 0,
    });
  }
  return rows;
}

/** The windows the report covers. */
export const matchWindowMs = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 } as const;

export const matchQualityQuerySchema = z.strictObject({
  window: z.enum(['1h', '24h', '7d']).default('24h').describe('The last hour, day or week.'),
});
export type MatchQualityQuery = z.input<typeof matchQualityQuerySchema>;

export const matchQualitySchema = z.object({
  pipe_id: z.string(),
  window: z.enum(['1h', '24h', '7d']),
  since: z.string(),
  until: z.string(),
  measured: z
    .boolean()
    .describe(
      "false: the pipe's destination declares no identifiers (a custom send()), so nothing is measured.",
    ),
  delivered: z.number().int().describe('Delivered events measured in the window.'),
  identifiers: z.array(
    z.object({
      identifier: z.string(),
      raw: z.number().int().describe('Delivered events whose incoming event carried it (before stitching).'),
      stitched: z.number().int().describe('Delivered events whose request carried it (after stitching).'),
      raw_share: z.number().nullable().describe('raw / delivered; null when nothing was delivered.'),
      stitched_share: z
        .number()
        .nullable()
        .describe('stitched / delivered; null when nothing was delivered.'),
    }),
  ),
});
export type MatchQuality = z.infer<typeof matchQualitySchema>;

/**
 * The report from the rollup's sums: every declared identifier in the declaration's order (zero
 * when none carried it), then any others seen in the window (a declaration that changed).
 */
export function matchQualityReport(input: {
  pipeId: string;
  window: keyof typeof matchWindowMs;
  since: string;
  until: string;
  declared: DestinationIdentifiers | undefined;
  rows: MatchCountRow[];
}): MatchQuality {
  const delivered = input.rows.find((r) => r.identifier === '*')?.stitched ?? 0;
  const byId = new Map(input.rows.filter((r) => r.identifier !== '*').map((r) => [r.identifier, r]));
  const order = [...Object.keys(input.declared ?? {}), ...[...byId.keys()].sort()];
  const share = (n: number) => (delivered === 0 ? null : n / delivered);
  return {
    pipe_id: input.pipeId,
    window: input.window,
    since: input.since,
    until: input.until,
    measured: input.declared !== undefined && Object.keys(input.declared).length > 0,
    delivered,
    identifiers: [...new Set(order)].map((identifier) => {
      const row = byId.get(identifier) ?? { raw: 0, stitched: 0 };
      return {
        identifier,
        raw: row.raw,
        stitched: row.stitched,
        raw_share: share(row.raw),
        stitched_share: share(row.stitched),
      };
    }),
  };
}
