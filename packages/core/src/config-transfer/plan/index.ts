/**
 * The import plan: compares a document with a snapshot of the target, one planner per entity kind
 * in the order their references run (a pipe needs its source and destination; a channel its pipes).
 * Pure: no I/O, so a dry run and the real import plan the same way.
 */
import {
  type ConfigDocument,
  type ConfigPlan,
  type ConfigSnapshot,
  configEntityKinds,
  type MissingSecret,
} from '../document.js';
import { planAlertChannels } from './alert-channels.js';
import { checkDocument } from './check.js';
import { withOptional } from './compare.js';
import { createPlanContext } from './context.js';
import { planDestinations } from './destinations.js';
import { planEventTypes } from './event-types.js';
import { planPipes } from './pipes.js';
import { planSecrets } from './secrets.js';
import { planSources } from './sources.js';

/**
 * Plans every step of an import. Throws `VALIDATION_FAILED` for duplicate keys in the document and
 * references to entities neither the document nor the target has.
 *
 * @example
 * ```ts
 * const { steps, missing } = planConfigImport(doc, target);
 * ```
 */
export function planConfigImport(doc: ConfigDocument, target: ConfigSnapshot): ConfigPlan {
  checkDocument(doc, target);
  const ctx = createPlanContext(target);
  planSecrets(doc.secrets, ctx);
  planEventTypes(doc.event_types, ctx);
  planSources(doc.sources, ctx);
  planDestinations(doc.destinations, ctx);
  planPipes(doc.pipes, ctx);
  planAlertChannels(doc.alert_channels, ctx);

  const missing: MissingSecret[] = [...ctx.needed].map(([key, by]) =>
    withOptional({ key, needed_by: [...new Set(by)] }, 'description', ctx.secretDescriptions.get(key)),
  );
  const steps = [...ctx.steps];
  for (const secret of missing) {
    steps.push({
      kind: 'secret',
      name: secret.key,
      id: null,
      action: 'missing',
      note: `no value here: create it (openpipes secrets create --key ${secret.key} --value-stdin)`,
    });
  }
  steps.sort((a, b) => configEntityKinds.indexOf(a.kind) - configEntityKinds.indexOf(b.kind));
  return { steps, missing };
}
