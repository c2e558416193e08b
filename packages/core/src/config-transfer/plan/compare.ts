/** Comparing an entity of the document with the target's: the step that makes them equal. Pure. */
import type { ConfigEntityKind, PlannedStep } from '../document.js';

/** Plans one entity: create, or update the fields that differ, or nothing. */
export function compareStep(
  kind: ConfigEntityKind,
  name: string,
  existing: Record<string, unknown> | undefined,
  desired: Record<string, unknown>,
  check: { compile?: PlannedStep['compile']; schema?: Record<string, unknown> } = {},
): PlannedStep {
  if (!existing) {
    return { kind, name, id: null, action: 'create', data: desired, ...definedOnly(check) };
  }
  const fields = Object.keys({ ...pickKnown(existing, desired), ...desired }).filter(
    (field) => canonical(existing[field]) !== canonical(desired[field]),
  );
  if (fields.length === 0) return { kind, name, id: existing.id as string, action: 'unchanged' };
  const patch = Object.fromEntries(fields.map((f) => [f, desired[f]]));
  const step: PlannedStep = {
    kind,
    name,
    id: existing.id as string,
    action: 'update',
    fields: fields.sort(),
    data: patch,
  };
  // Only code that changes is compiled again (the registries do the same).
  if (check.compile && fields.some((f) => f === 'send' || f === 'transform')) step.compile = check.compile;
  if (check.schema && fields.includes('schema')) step.schema = check.schema;
  return step;
}

/** The optional fields of the desired data that the existing entity has and the desired lacks. */
function pickKnown(existing: Record<string, unknown>, desired: Record<string, unknown>) {
  const optional = ['description', 'template'];
  return Object.fromEntries(
    optional.filter((f) => f in existing && !(f in desired)).map((f) => [f, undefined]),
  );
}

/** JSON with sorted keys, so equal data compares equal whatever the key order. */
export function canonical(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => compare(a, b)))
      : v,
  );
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function definedOnly<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function withOptional<T extends object, K extends string>(
  base: T,
  key: K,
  value: string | undefined,
): T & Partial<Record<K, string>> {
  return (value === undefined ? base : { ...base, [key]: value }) as T & Partial<Record<K, string>>;
}
