import { sourceInputSchema } from '@openpipes/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { patchSchema, requestComponent } from './components.js';
import { defineRoute, noBody, reply } from './route.js';

describe('defineRoute', () => {
  it('types the handler from the path and the schemas', () => {
    const route = defineRoute({
      method: 'POST',
      path: '/api/things/{id}/parts/{part}',
      summary: 'A route for the types.',
      tag: 'Test',
      access: 'write',
      query: z.strictObject({ limit: z.string().transform(Number).optional() }),
      body: { schema: z.strictObject({ name: z.string(), count: z.number().default(1) }), label: 'thing' },
      responses: {
        200: { description: 'The thing.', schema: z.object({ id: z.string(), count: z.number() }) },
        204: { description: 'Nothing.', schema: noBody },
      },
      async handle({ params, query, body }) {
        expectTypeOf(params).toEqualTypeOf<{ id: string } & { part: string } & Record<never, never>>();
        expectTypeOf(query.limit).toEqualTypeOf<number | undefined>();
        // The body as parsed: defaults filled in.
        expectTypeOf(body).toEqualTypeOf<{ name: string; count: number }>();
        if (body.count === 0) return reply(204, undefined);
        return reply(200, { id: params.id, count: body.count });
      },
    });
    expect(route.path).toBe('/api/things/{id}/parts/{part}');
  });
});

describe('patchSchema', () => {
  it('makes every field optional and applies no default, so a PATCH changes only what it names', () => {
    const patch = patchSchema(sourceInputSchema);
    expect(patch.parse({ name: 'Website' })).toEqual({ name: 'Website' });
    expect(patch.parse({})).toEqual({});
    expect(() => patch.parse({ enbled: false })).toThrow();
    expect(() => patch.parse({ dedup_window_seconds: -1 })).toThrow();
  });
});

describe('component names', () => {
  it('refuses two different schemas under one name', () => {
    requestComponent('TestOnlyName', z.string());
    expect(() => requestComponent('TestOnlyName', z.number())).toThrow(
      /two input schemas are named TestOnlyName/,
    );
  });
});
