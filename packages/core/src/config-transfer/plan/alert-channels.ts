import { alertChannelDataSchema } from '../../alerts/schemas.js';
import type { ConfigDocument } from '../document.js';
import { compareStep } from './compare.js';
import type { PlanContext } from './context.js';

/**
 * Alert channels, by name. The URL never travels: a new channel needs a shared URL secret, or must
 * be created once on the target with its URL. A channel watching a skipped pipe is skipped.
 *
 * @example
 * ```ts
 * planAlertChannels(doc.alert_channels, ctx); // after planPipes
 * ```
 */
export function planAlertChannels(entries: ConfigDocument['alert_channels'], ctx: PlanContext): void {
  const channels = new Map(ctx.target.channels.map((c) => [c.name, c]));
  for (const entry of entries) {
    const { url_secret, pipes: watched, ...rest } = entry;
    const existing = channels.get(entry.name);
    const unresolved = watched.filter((name) => !ctx.pipeIds.get(name));
    if (unresolved.length > 0) {
      ctx.steps.push({
        kind: 'alert_channel',
        name: entry.name,
        id: existing?.id ?? null,
        action: 'skip',
        note: `it watches pipes that are skipped: ${unresolved.join(', ')}`,
      });
      continue;
    }
    let urlSecretId: string | null = existing?.url_secret_id ?? null;
    if (url_secret !== null) {
      const id = ctx.secretIdByKey(url_secret);
      if (id) urlSecretId = id;
      else ctx.need(url_secret, `alert channel ${entry.name}`);
    }
    if (urlSecretId === null) {
      ctx.steps.push({
        kind: 'alert_channel',
        name: entry.name,
        id: null,
        action: 'skip',
        note:
          url_secret === null
            ? `its webhook URL is not exported; create the channel here once (openpipes alerts create --name ${entry.name} --type ${entry.type} --url-stdin), then import again`
            : `its URL secret ${url_secret} has no value here yet; create it, then import again`,
      });
      continue;
    }
    const desired = alertChannelDataSchema.parse({
      ...rest,
      url_secret_id: urlSecretId,
      pipe_ids: watched.map((name) => ctx.pipeIds.get(name)!),
    }) as Record<string, unknown>;
    ctx.steps.push(compareStep('alert_channel', entry.name, existing, desired));
  }
}
