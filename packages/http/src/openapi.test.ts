import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { requestComponent, responseComponent } from './components.js';
import { buildOpenApiDocument } from './openapi.js';
import { defineRoute, reply } from './route.js';

type Json = Record<string, unknown>;

/** Every `$ref` in a value. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refs(item, out);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') out.push(item);
      else refs(item, out);
    }
  }
  return out;
}

const part = z.object({ size: z.number().default(1) });
const widget = responseComponent('TestWidget', z.object({ name: z.string(), parts: z.array(part) }));
const widgetInput = requestComponent('TestWidgetInput', z.strictObject({ name: z.string(), part }));
const routes = [
  defineRoute({
    method: 'POST',
    path: '/api/widgets',
    summary: 'Create a widget.',
    tag: 'Widgets',
    access: 'write',
    body: { schema: widgetInput, label: 'widget', required: true },
    responses: { 201: { description: 'The widget.', schema: widget } },
    async handle({ body }) {
      return reply(201, { name: body.name, parts: [body.part] });
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/widgets',
    summary: 'List widgets.',
    tag: 'Widgets',
    access: 'read',
    // Unnamed: written where it is used, with the named widget as a $ref inside.
    responses: { 200: { description: 'Widgets.', schema: z.object({ data: z.array(widget) }) } },
    async handle() {
      return reply(200, { data: [] });
    },
  }),
];

describe('the generated OpenAPI document', () => {
  const doc = buildOpenApiDocument(routes, { basePath: '', version: '0' });
  const schemas = doc.components.schemas;

  it('refers to named schemas by name and writes unnamed ones in place', () => {
    const create = doc.paths['/api/widgets']!.post as unknown as {
      requestBody: { content: Record<string, { schema: Json }> };
      responses: Record<string, { content?: Record<string, { schema: Json }> }>;
    };
    expect(create.requestBody.content['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/TestWidgetInput',
    });
    expect(create.responses['201']!.content!['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/TestWidget',
    });
    const list = doc.paths['/api/widgets']!.get as typeof create;
    expect(list.responses['200']!.content!['application/json']!.schema).toMatchObject({
      type: 'object',
      properties: { data: { type: 'array', items: { $ref: '#/components/schemas/TestWidget' } } },
    });
  });

  it('reads a schema each way: a default is optional in a request and always there in an answer', () => {
    const input = schemas.TestWidgetInput as unknown as { properties: { part: Json } };
    expect(input.properties.part).toMatchObject({ properties: { size: { default: 1 } } });
    expect(input.properties.part).not.toHaveProperty('required');
    const output = schemas.TestWidget as unknown as { properties: { parts: { items: Json } } };
    expect(output.properties.parts.items).toMatchObject({ required: ['size'] });
  });

  it('has a target for every $ref and no internal names', () => {
    for (const target of refs(doc)) {
      const name = /^#\/components\/schemas\/([A-Za-z]+)$/.exec(target)?.[1];
      expect(name, target).toBeDefined();
      expect(schemas, target).toHaveProperty(name!);
    }
    expect(JSON.stringify(doc)).not.toMatch(/unnamed-|__shared|"\$id"|"\$schema"/);
  });
});
