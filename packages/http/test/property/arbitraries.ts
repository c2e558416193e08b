/**
 * Requests for the property tests, from the OpenAPI document: bodies and query values generated
 * from its JSON Schemas (valid-ish: what the schema describes, with ids of entities that exist),
 * then mutated the ways a careless or hostile client would (wrong types, unknown keys, huge
 * strings, lone surrogates, NUL, numbers that do not fit a double, deep nesting, garbage bytes).
 */
import fc from 'fast-check';
import { textPattern } from '../../src/openapi.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON Schemas are walked key by key
export type Schema = Record<string, any>;

/** Values a generator may use instead of what a schema alone would give (ids that exist, code). */
export type Hint = (name: string, schema: Schema) => fc.Arbitrary<unknown> | undefined;

export interface SchemaContext {
  document: Schema;
  hint: Hint;
}

/** Resolves `#/components/...` in the document. */
function resolve(document: Schema, ref: string): Schema {
  let node: Schema = document;
  for (const part of ref.replace(/^#\//, '').split('/'))
    node = node[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return node;
}

const smallJson = fc.jsonValue({ maxDepth: 2 });

/**
 * A value the schema describes (or nearly: combinators that only add `required` or `not` are
 * left to chance, so some values break them, which is fine for a fuzzer).
 */
export function valueFor(
  schema: Schema,
  context: SchemaContext,
  name = '',
  depth = 0,
): fc.Arbitrary<unknown> {
  if (schema.$ref) {
    if (depth > 5) return fc.constant(null);
    const { $ref, ...rest } = schema;
    return valueFor({ ...resolve(context.document, $ref), ...rest }, context, name, depth + 1);
  }
  const hinted = context.hint(name, schema);
  if (hinted) return hinted;
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  const choices = schema.anyOf ?? schema.oneOf;
  if (!schema.type && !schema.properties && Array.isArray(choices)) {
    return fc.oneof(...choices.map((choice: Schema) => valueFor(choice, context, name, depth + 1)));
  }
  if (!schema.type && Array.isArray(schema.allOf)) {
    return valueFor(Object.assign({}, ...schema.allOf), context, name, depth + 1);
  }
  const type = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (type.length > 1) {
    return fc.oneof(...type.map((t: string) => valueFor({ ...schema, type: t }, context, name, depth)));
  }
  switch (type[0] ?? (schema.properties ? 'object' : undefined)) {
    case 'object':
      return objectFor(schema, context, depth);
    case 'array': {
      const min = schema.minItems ?? 0;
      return fc.array(valueFor(schema.items ?? {}, context, name, depth + 1), {
        minLength: min,
        maxLength: Math.min(schema.maxItems ?? min + 3, min + 3),
      });
    }
    case 'string':
      return stringFor(schema);
    case 'integer':
      return fc.integer({
        min: Math.max(schema.minimum ?? (schema.exclusiveMinimum ?? -1001) + 1, -1e9),
        max: Math.min(schema.maximum ?? (schema.exclusiveMaximum ?? 1e6 + 1) - 1, 1e9),
      });
    case 'number':
      return fc.double({
        min: schema.minimum ?? schema.exclusiveMinimum ?? -1e6,
        max: schema.maximum ?? schema.exclusiveMaximum ?? 1e6,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return smallJson;
  }
}

function objectFor(schema: Schema, context: SchemaContext, depth: number): fc.Arbitrary<unknown> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const names = Object.keys(properties);
  if (names.length === 0) {
    const values = schema.additionalProperties;
    if (values === false) return fc.constant({});
    const key = schema.propertyNames ? stringFor({ type: 'string', ...schema.propertyNames }) : fc.string();
    return fc.dictionary(key, valueFor(values && values !== true ? values : {}, context, '', depth + 1), {
      maxKeys: 3,
    });
  }
  const model = Object.fromEntries(names.map((n) => [n, valueFor(properties[n]!, context, n, depth + 1)]));
  return fc.record(model, { requiredKeys: (schema.required ?? []).filter((n: string) => n in model) });
}

const isoTime = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

function stringFor(schema: Schema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.min(schema.maxLength ?? minLength + 24, minLength + 24);
  if (schema.format === 'date-time') return isoTime;
  if (schema.pattern && schema.pattern !== textPattern) {
    return fc
      .stringMatching(new RegExp(schema.pattern))
      .filter((s) => s.length >= minLength && s.length <= (schema.maxLength ?? Number.POSITIVE_INFINITY));
  }
  // Text the server accepts: any Unicode (surrogate pairs included), no NUL, no lone surrogate.
  return fc.string({ unit: 'grapheme', minLength, maxLength }).map((s) => s.replaceAll('\u0000', ' '));
}

// ---------------------------------------------------------------------------------------------
// Mutations

/** Replaced, in the serialized body, by the bare number `1e400` (JSON.stringify cannot write it). */
const overflow = '__OPENPIPES_1E400__';

const hostileLeaf = fc.oneof(
  fc.constant('\ud800'),
  fc.constant('x\udfff'),
  fc.constant('a\u0000b'),
  fc.constant(overflow),
  fc.constant('-'.repeat(70_000)),
  fc.integer({ min: 1, max: 100 }).map((n) => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < n; i++) deep = [deep];
    return deep;
  }),
  fc.constantFrom(null, true, 0, -1, 1.5, '', [], {}, [[]], Number.MAX_SAFE_INTEGER * 4),
);

type Path = Array<string | number>;

/** Every path in a JSON value (the root is `[]`). */
function pathsOf(value: unknown, path: Path = [], out: Path[] = []): Path[] {
  out.push(path);
  if (out.length > 200) return out;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) pathsOf(item, [...path, i], out);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) pathsOf(item, [...path, key], out);
  }
  return out;
}

/** A copy of `value` with `path` replaced (`remove`: deleted). */
function replaceAt(value: unknown, path: Path, replacement: unknown, remove = false): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value)) {
    const copy = [...value];
    if (remove && rest.length === 0) copy.splice(head as number, 1);
    else copy[head as number] = replaceAt(copy[head as number], rest, replacement, remove);
    return copy;
  }
  const copy = { ...(value as Record<string, unknown>) };
  if (remove && rest.length === 0) delete copy[head as string];
  else copy[head as string] = replaceAt(copy[head as string], rest, replacement, remove);
  return copy;
}

/** `value` broken one way: a hostile leaf, a wrong type, an unknown or hostile key, a key removed. */
export function mutated(value: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc
    .tuple(
      value,
      fc.nat(),
      fc.nat({ max: 3 }),
      hostileLeaf,
      fc.constantFrom('enbled', 'x\ud800', 'k\u0000', '__proto__', 'constructor'),
    )
    .map(([original, pick, how, leaf, key]) => {
      const paths = pathsOf(original);
      const path = paths[pick % paths.length]!;
      let broken: unknown;
      if (how === 0) broken = replaceAt(original, path, leaf);
      else if (how === 1 && path.length > 0) broken = replaceAt(original, path, undefined, true);
      else {
        const target = path.reduce<unknown>(
          (node, part) => (node as Record<string, unknown>)[part as string],
          original,
        );
        broken =
          target !== null && typeof target === 'object' && !Array.isArray(target)
            ? replaceAt(original, path, { ...target, [key]: leaf })
            : replaceAt(original, path, leaf);
      }
      return (JSON.stringify(broken) ?? 'null').replaceAll(`"${overflow}"`, '1e400');
    });
}

/** Bodies that are not JSON, or not UTF-8. */
export const garbageBody: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.uint8Array({ minLength: 1, maxLength: 40 }),
  fc.constantFrom('', '{', '{"a":', '[1,]', 'null', '"\\ud800"', '{"a":1}{"b":2}', '\u0000{}', '\ufeff{}'),
);

/** A path parameter: an id that exists, an id of another kind, a well-formed unknown one, garbage. */
export function pathParam(known: string[], other: string[]): fc.Arbitrary<string> {
  const raw = fc.oneof(
    { arbitrary: fc.constantFrom(...(known.length > 0 ? known : ['none'])), weight: 6 },
    { arbitrary: fc.constantFrom(...(other.length > 0 ? other : ['none'])), weight: 1 },
    { arbitrary: fc.stringMatching(/^[a-z]{3}_[0-9A-HJKMNP-TV-Z]{26}$/), weight: 1 },
    { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), weight: 2 },
    {
      arbitrary: fc.constantFrom('%00', 'src_\u0000', '\ud800', 'a/b', '..x', ' ', '%', '%E0%A4%A'),
      weight: 1,
    },
  );
  return raw.map(encodeSegment);
}

/** Percent-encodes a path segment; a lone surrogate becomes bytes that are not UTF-8. */
export function encodeSegment(segment: string): string {
  // A segment of dots means "this" or "parent" to URL parsing: it would move to another path.
  const safe = /^[.]*$/.test(segment) ? `x${segment}` : segment;
  try {
    return encodeURIComponent(safe);
  } catch {
    return safe.replace(/[\ud800-\udfff]/g, '%ED%A0%80').replace(/[^%\w-]/g, (c) => encodeURIComponent(c));
  }
}

/** A query value: one the schema describes, or one a sloppy client sends. */
export function queryValue(schema: Schema, context: SchemaContext): fc.Arbitrary<string> {
  return fc.oneof(
    {
      arbitrary: valueFor(schema, context).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))),
      weight: 4,
    },
    {
      arbitrary: fc.constantFrom(
        '0x10',
        '1e3',
        '',
        'garbage',
        '\u0000',
        '-1',
        '1001',
        '١٦',
        'true',
        'a,b',
        '%',
      ),
      weight: 2,
    },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }), weight: 1 },
  );
}
