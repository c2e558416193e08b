import { sourceInputSchema } from '../../schemas.js';
import { type ConfigDocument, placeholder } from '../document.js';
import { compareStep } from './compare.js';
import type { PlanContext } from './context.js';

/**
 * Sources, by slug. A source whose auth secret has no value here cannot be created without opening
 * it to anyone: a new one is skipped (and the pipes on it with it), an existing one keeps its auth
 * until the secret exists.
 *
 * @example
 * ```ts
 * planSources(doc.sources, ctx);
 * ```
 */
export function planSources(entries: ConfigDocument['sources'], ctx: PlanContext): void {
  const sources = new Map(ctx.target.sources.map((s) => [s.slug, s]));
  for (const entry of entries) {
    const existing = sources.get(entry.slug);
    const { auth, ...rest } = entry;
    if (auth.type !== 'none' && !ctx.secretIdByKey(auth.secret)) {
      ctx.need(auth.secret, `source ${entry.slug}`);
      if (!existing) {
        ctx.sourceIds.set(entry.slug, null);
        ctx.steps.push({
          kind: 'source',
          name: entry.slug,
          id: null,
          action: 'skip',
          note: `its ${auth.type} secret ${auth.secret} has no value here yet; create it, then import again`,
        });
        continue;
      }
      const desired = sourceInputSchema.parse({ ...rest, auth: existing.auth }) as Record<string, unknown>;
      const step = compareStep('source', entry.slug, existing, desired);
      step.note = `auth unchanged until secret ${auth.secret} exists`;
      ctx.steps.push(step);
      continue;
    }
    const mappedAuth =
      auth.type === 'none'
        ? auth
        : auth.type === 'bearer'
          ? { type: 'bearer' as const, secret_id: ctx.secretIdByKey(auth.secret)! }
          : {
              type: 'hmac' as const,
              secret_id: ctx.secretIdByKey(auth.secret)!,
              tolerance_seconds: auth.tolerance_seconds,
            };
    const desired = sourceInputSchema.parse({ ...rest, auth: mappedAuth }) as Record<string, unknown>;
    if (!existing) ctx.sourceIds.set(entry.slug, placeholder('source', entry.slug));
    ctx.steps.push(compareStep('source', entry.slug, existing, desired));
  }
}
