/**
 * The schemas the OpenAPI document names (`#/components/schemas/Source`): a route refers to the
 * zod schema itself, and the document refers to the name it was given here. A schema is named per
 * direction, as a request (what the server accepts: zod's input) or as an answer (what it returns:
 * zod's output), since one schema reads differently each way (defaults are optional going in and
 * always there coming out).
 */
import { z } from 'zod';

/** The names given, per direction. */
export const componentNames = {
  input: new Map<z.ZodType, string>(),
  output: new Map<z.ZodType, string>(),
};

function name<T extends z.ZodType>(io: 'input' | 'output', id: string, schema: T): T {
  for (const [other, otherId] of componentNames[io]) {
    if (otherId === id && other !== schema) throw new Error(`two ${io} schemas are named ${id}`);
  }
  componentNames[io].set(schema, id);
  return schema;
}

/**
 * Names a schema of what the server returns.
 *
 * @example
 * ```ts
 * const sourceAnswer = responseComponent('Source', sourceSchema);
 * ```
 */
export function responseComponent<T extends z.ZodType>(id: string, schema: T): T {
  return name('output', id, schema);
}

/**
 * Names a schema of what the server accepts.
 *
 * @example
 * ```ts
 * const sourceBody = requestComponent('SourceInput', sourceInputSchema);
 * ```
 */
export function requestComponent<T extends z.ZodType>(id: string, schema: T): T {
  return name('input', id, schema);
}

const isoTime = z.iso.datetime({ offset: true });

/**
 * A page of a list.
 *
 * @example
 * ```ts
 * pageSchema(sourceSchema).parse({ data: [], next_cursor: null });
 * ```
 */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    data: z.array(item),
    next_cursor: z.string().nullable().describe('Pass back as `cursor` for the next page.'),
  });
}

/**
 * Every version of an entity, oldest first.
 *
 * @example
 * ```ts
 * versionsSchema(sourceSchema).parse({ data: [{ version: 1, created_at, actor: 'ops', data: source }] });
 * ```
 */
export function versionsSchema<T extends z.ZodType>(data: T) {
  return z.object({
    data: z.array(
      z.object({
        version: z.number().int(),
        created_at: isoTime,
        actor: z.string().nullable().describe('The API key (or user) that made this version.'),
        data,
      }),
    ),
  });
}

/** The fields of a PATCH: each optional, none with a default (a default would overwrite). */
type PatchShape<S extends z.ZodRawShape> = {
  [K in keyof S]: z.ZodOptional<S[K] extends z.ZodDefault<infer T extends z.ZodType> ? T : S[K]>;
};

/**
 * What a PATCH of an entity takes: the create body's fields, each optional and without its
 * default (zod's `.partial()` keeps defaults, so `{"name": "x"}` would reset every other field).
 *
 * @example
 * ```ts
 * patchSchema(sourceInputSchema).parse({ name: 'Website' }); // { name: 'Website' }, nothing else
 * ```
 */
export function patchSchema<S extends z.ZodRawShape>(input: z.ZodObject<S, z.core.$strict>) {
  const shape = Object.fromEntries(
    Object.entries(input.shape).map(([key, field]) => [
      key,
      z.optional(field instanceof z.ZodDefault ? field.unwrap() : field),
    ]),
  );
  // Object.fromEntries forgets the keys; PatchShape says what the map above built.
  return z.strictObject(shape as PatchShape<S>);
}
