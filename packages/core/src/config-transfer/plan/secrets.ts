import type { ConfigDocument } from '../document.js';
import type { PlanContext } from './context.js';

/**
 * Secrets: only descriptions are imported; values are the operator's to create. A key the target
 * lacks is recorded as needed (listed as `missing` once every kind is planned).
 *
 * @example
 * ```ts
 * planSecrets(doc.secrets, ctx);
 * ```
 */
export function planSecrets(entries: ConfigDocument['secrets'], ctx: PlanContext): void {
  const secretsByKey = new Map(ctx.target.secrets.map((s) => [s.key, s]));
  for (const entry of entries) {
    ctx.secretDescriptions.set(entry.key, entry.description);
    const existing = secretsByKey.get(entry.key);
    if (!existing) {
      ctx.needed.set(entry.key, ctx.needed.get(entry.key) ?? []);
      continue;
    }
    ctx.steps.push(
      existing.description === entry.description
        ? { kind: 'secret', name: entry.key, id: existing.id, action: 'unchanged' }
        : {
            kind: 'secret',
            name: entry.key,
            id: existing.id,
            action: 'update',
            fields: ['description'],
            data: { description: entry.description },
          },
    );
  }
}
