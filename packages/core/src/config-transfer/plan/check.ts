import { PipesError } from '../../errors.js';
import type { FieldIssue } from '../../validation.js';
import type { ConfigDocument, ConfigSnapshot } from '../document.js';

/** Refuses duplicate keys and references to nothing, listing every problem at once. */
export function checkDocument(doc: ConfigDocument, target: ConfigSnapshot): void {
  const issues: FieldIssue[] = [];
  const unique = (keys: string[], field: string) => {
    const seen = new Set<string>();
    keys.forEach((key, i) => {
      if (seen.has(key)) issues.push({ path: `${field}[${i}]`, message: `${key} appears twice` });
      seen.add(key);
    });
  };
  // In the document's order, so the first issues listed are the first the reader meets.
  const keyed: [field: string, keys: string[]][] = [
    ['secrets', doc.secrets.map((s) => s.key)],
    ['event_types', doc.event_types.map((e) => e.name)],
    ['sources', doc.sources.map((s) => s.slug)],
    ['destinations', doc.destinations.map((d) => d.name)],
    ['pipes', doc.pipes.map((p) => p.name)],
    ['alert_channels', doc.alert_channels.map((c) => c.name)],
  ];
  for (const [field, keys] of keyed) unique(keys, field);

  const sources = new Set([...doc.sources.map((s) => s.slug), ...target.sources.map((s) => s.slug)]);
  const destinations = new Set([
    ...doc.destinations.map((d) => d.name),
    ...target.destinations.map((d) => d.name),
  ]);
  const pipes = new Set([...doc.pipes.map((p) => p.name), ...target.pipes.map((p) => p.name)]);
  doc.pipes.forEach((p, i) => {
    if (!sources.has(p.source)) {
      issues.push({ path: `pipes[${i}].source`, message: `no source with slug ${p.source}` });
    }
    if (!destinations.has(p.destination)) {
      issues.push({ path: `pipes[${i}].destination`, message: `no destination named ${p.destination}` });
    }
  });
  doc.alert_channels.forEach((c, i) => {
    for (const name of c.pipes) {
      if (!pipes.has(name))
        issues.push({ path: `alert_channels[${i}].pipes`, message: `no pipe named ${name}` });
    }
  });
  if (issues.length > 0) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: `invalid config document: ${issues
        .slice(0, 3)
        .map((i) => `${i.path}: ${i.message}`)
        .join('; ')}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''}`,
      details: { issues },
    });
  }
}
