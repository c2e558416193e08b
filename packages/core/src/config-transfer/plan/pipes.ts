import { pipeInputSchema } from '../../schemas.js';
import { type ConfigDocument, placeholder } from '../document.js';
import { compareStep } from './compare.js';
import type { PlanContext } from './context.js';

/**
 * Pipes, by name, wired to their source and destination by slug and name; skipped when their source
 * is. A changed transform is compiled before any write.
 *
 * @example
 * ```ts
 * planPipes(doc.pipes, ctx); // after planSources and planDestinations
 * ```
 */
export function planPipes(entries: ConfigDocument['pipes'], ctx: PlanContext): void {
  const pipes = new Map(ctx.target.pipes.map((p) => [p.name, p]));
  for (const entry of entries) {
    const { source, destination, ...rest } = entry;
    const existing = pipes.get(entry.name);
    const sourceId = ctx.sourceIds.get(source);
    if (!sourceId) {
      ctx.pipeIds.set(entry.name, existing?.id ?? null);
      ctx.steps.push({
        kind: 'pipe',
        name: entry.name,
        id: existing?.id ?? null,
        action: 'skip',
        note: `its source ${source} is skipped`,
      });
      continue;
    }
    const desired = pipeInputSchema.parse({
      ...rest,
      source_id: sourceId,
      destination_id: ctx.destinationIds.get(destination)!,
    }) as Record<string, unknown>;
    if (!existing) ctx.pipeIds.set(entry.name, placeholder('pipe', entry.name));
    const compile =
      rest.transform === null || rest.transform === undefined
        ? undefined
        : { kind: 'transform' as const, code: rest.transform };
    ctx.steps.push(compareStep('pipe', entry.name, existing, desired, { compile }));
  }
}
