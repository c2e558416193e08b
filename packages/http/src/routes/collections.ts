/**
 * The routes every collection has (create, list, get, patch, delete, versions, revert, and toggle
 * where it can be switched on and off), declared once for all of them.
 */
import type { ActorContext, IdKind } from '@openpipes/core';
import { parseOrThrow } from '@openpipes/core';
import { json, type Route, type RouteContext } from '../route.js';
import { listQuerySchema, revertBodySchema, toggleBodySchema } from '../schemas.js';

/** The registry operations the generic routes use (every core registry has them). */
export interface CrudRegistry {
  create(input: never, context?: ActorContext): Promise<unknown>;
  get(id: string): Promise<unknown>;
  list(options?: { cursor?: string; limit?: number }): Promise<unknown>;
  update(id: string, patch: never, context?: ActorContext): Promise<unknown>;
  delete(id: string, context?: ActorContext): Promise<void>;
  versions(id: string): Promise<unknown[]>;
  revert(id: string, version: number, context?: ActorContext): Promise<unknown>;
  toggle?(id: string, enabled?: boolean, context?: ActorContext): Promise<unknown>;
}

export interface Collection {
  /** Path segment: `/api/<path>`. */
  path: string;
  /** The kind of its ids (list cursors are ids of this kind). */
  idKind: IdKind;
  /** The OpenAPI component names: entity, create body, patch body. */
  entity: string;
  label: string;
  tag: string;
  registry: CrudRegistry;
  toggle: boolean;
  /** Replaces the generic create (templates for destinations, values for secrets). */
  create?: (context: RouteContext, body: Record<string, unknown>) => Promise<Response>;
  /** Checks a patch before it is applied. */
  checkPatch?: (body: Record<string, unknown>, context: RouteContext) => void;
}

export const idParam = '{id}';

export function collectionRoutes(c: Collection): Route[] {
  const base = `/api/${c.path}`;
  const item = `${base}/${idParam}`;
  const listQuery = listQuerySchema(c.idKind);
  const routes: Route[] = [
    {
      method: 'POST',
      path: base,
      summary: `Create a ${c.label}.`,
      tag: c.tag,
      access: 'write',
      body: {
        schema: c.path === 'event-destinations' ? 'DestinationCreate' : `${c.entity}Input`,
        required: true,
      },
      responses: {
        201: {
          description: `The new ${c.label}.`,
          schema: c.path === 'event-destinations' ? 'DestinationCreated' : c.entity,
        },
      },
      async handle(context) {
        const body = await context.body();
        if (c.create) return c.create(context, body);
        return json(201, await c.registry.create(body as never, context.actor));
      },
    },
    {
      method: 'GET',
      path: base,
      summary: `List ${c.label}s, oldest first.`,
      tag: c.tag,
      access: 'read',
      query: listQuery,
      responses: { 200: { description: `A page of ${c.label}s.`, schema: `${c.entity}Page` } },
      async handle(context) {
        return json(200, await c.registry.list(context.query(listQuery)));
      },
    },
    {
      method: 'GET',
      path: item,
      summary: `Get a ${c.label}.`,
      tag: c.tag,
      access: 'read',
      responses: { 200: { description: `The ${c.label}.`, schema: c.entity } },
      async handle(context) {
        return json(200, await c.registry.get(context.params.id!));
      },
    },
    {
      method: 'PATCH',
      path: item,
      summary: `Change fields of a ${c.label} (a new version).`,
      tag: c.tag,
      access: 'write',
      body: { schema: `${c.entity}Patch`, required: true },
      responses: { 200: { description: `The ${c.label}.`, schema: c.entity } },
      async handle(context) {
        const body = await context.body();
        c.checkPatch?.(body, context);
        return json(200, await c.registry.update(context.params.id!, body as never, context.actor));
      },
    },
    {
      method: 'DELETE',
      path: item,
      summary: `Delete a ${c.label} (its version history stays).`,
      tag: c.tag,
      access: 'write',
      responses: { 204: { description: 'Deleted.' } },
      async handle(context) {
        await c.registry.delete(context.params.id!, context.actor);
        return new Response(null, { status: 204 });
      },
    },
    {
      method: 'GET',
      path: `${item}/versions`,
      summary: `Every version of a ${c.label}, oldest first.`,
      tag: c.tag,
      access: 'read',
      responses: { 200: { description: 'Versions.', schema: `${c.entity}Versions` } },
      async handle(context) {
        return json(200, { data: await c.registry.versions(context.params.id!) });
      },
    },
    {
      method: 'POST',
      path: `${item}/revert`,
      summary: `Make an old version of a ${c.label} current again (as a new version).`,
      tag: c.tag,
      access: 'write',
      body: { schema: revertBodySchema, required: true },
      responses: { 200: { description: `The ${c.label}.`, schema: c.entity } },
      async handle(context) {
        const { version } = parseOrThrow(revertBodySchema, await context.body(), 'revert');
        return json(200, await c.registry.revert(context.params.id!, version, context.actor));
      },
    },
  ];
  const toggle = c.registry.toggle?.bind(c.registry);
  if (c.toggle && toggle) {
    routes.push({
      method: 'PUT',
      path: `${item}/toggle`,
      summary: `Flip a ${c.label} on or off, or set it with {"enabled": true|false}; answers the new state.`,
      tag: c.tag,
      access: 'write',
      body: { schema: toggleBodySchema },
      responses: { 200: { description: `The ${c.label}, with its new \`enabled\`.`, schema: c.entity } },
      async handle(context) {
        const { enabled } = parseOrThrow(toggleBodySchema, await context.body(), 'toggle');
        return json(200, await toggle(context.params.id!, enabled, context.actor));
      },
    });
  }
  return routes;
}
