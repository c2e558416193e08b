/**
 * What the planners of an import share while they walk the document kind by kind (secrets, event
 * types, sources, destinations, pipes, alert channels — each may refer to the ones before): the
 * steps so far, the secrets still needed, and the id each natural key will have (a placeholder for
 * an entity the import creates, null for one it skips).
 */
import type { ConfigSnapshot, PlannedStep } from '../document.js';

export interface PlanContext {
  readonly target: ConfigSnapshot;
  readonly steps: PlannedStep[];
  /** The id of the target's secret with this key; null when it has no value here. */
  secretIdByKey(key: string): string | null;
  /** Records that `by` (e.g. `destination meta`) needs a secret the target does not have. */
  need(key: string, by: string): void;
  /** Secrets the target lacks, with who needs them (in the order first seen). */
  readonly needed: Map<string, string[]>;
  /** Secret descriptions from the document (for the missing-secrets list). */
  readonly secretDescriptions: Map<string, string | undefined>;
  /** Source slug → id (placeholder when created, null when skipped). */
  readonly sourceIds: Map<string, string | null>;
  /** Destination name → id (placeholder when created). */
  readonly destinationIds: Map<string, string>;
  /** Pipe name → id (placeholder when created, null when skipped and absent). */
  readonly pipeIds: Map<string, string | null>;
}

/**
 * A fresh context over the target's entities.
 *
 * @example
 * ```ts
 * const ctx = createPlanContext(target);
 * planSecrets(doc.secrets, ctx);
 * ```
 */
export function createPlanContext(target: ConfigSnapshot): PlanContext {
  const secretsByKey = new Map(target.secrets.map((s) => [s.key, s]));
  const needed = new Map<string, string[]>();
  return {
    target,
    steps: [],
    secretIdByKey: (key) => secretsByKey.get(key)?.id ?? null,
    need(key, by) {
      if (secretsByKey.has(key)) return;
      needed.set(key, [...(needed.get(key) ?? []), by]);
    },
    needed,
    secretDescriptions: new Map(),
    sourceIds: new Map(target.sources.map((s) => [s.slug, s.id])),
    destinationIds: new Map(target.destinations.map((d) => [d.name, d.id])),
    pipeIds: new Map(target.pipes.map((p) => [p.name, p.id])),
  };
}
