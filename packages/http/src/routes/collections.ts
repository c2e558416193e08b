/**
 * The routes every collection has (create, list, get, patch, delete, versions, revert, and toggle
 * where it can be switched on and off), declared once for all of them, and the schemas they
 * answer with, named for the OpenAPI document.
 */
import type { ActorContext, IdKind } from '@openpipes/core';
import type { z } from 'zod';
import {
  pageSchema,
  patchSchema,
  requestComponent,
  responseComponent,
  versionsSchema,
} from '../components.js';
import { defineRoute, noBody, type Route, reply } from '../route.js';
import { listQuerySchema, revertBodySchema, toggleBodySchema } from '../schemas.js';

/** An object schema whose keys are known: create bodies. */
type InputSchema = z.ZodObject<z.ZodRawShape, z.core.$strict>;

/** The schemas of a collection, named `<Name>`, `<Name>Input`, `<Name>Patch`, `<Name>Page`, `<Name>Versions`. */
export interface CollectionSchemas<E extends z.ZodType, I extends z.ZodType, P extends z.ZodType> {
  entity: E;
  input: I;
  patch: P;
  page: ReturnType<typeof pageSchema<E>>;
  versions: z.ZodType;
}

/**
 * Names the schemas of a collection (once, when its module loads).
 *
 * @example
 * ```ts
 * const schemas = collectionSchemas('Source', { entity: sourceSchema, input: sourceInputSchema });
 * ```
 */
export function collectionSchemas<E extends z.ZodType, I extends InputSchema, P extends z.ZodType = I>(
  name: string,
  given: {
    entity: E;
    input: I;
    /** Default: the input's fields, each optional and without its default. */
    patch?: P;
    /** What a version holds, when it is not the entity (alert channels keep their config). */
    version?: z.ZodType;
  },
) {
  return {
    entity: responseComponent(name, given.entity),
    input: requestComponent(`${name}Input`, given.input),
    patch: requestComponent(`${name}Patch`, given.patch ?? patchSchema(given.input)),
    page: responseComponent(`${name}Page`, pageSchema(given.entity)),
    versions: responseComponent(`${name}Versions`, versionsSchema(given.version ?? given.entity)),
  };
}

/** The registry operations the generic routes use (every core registry has them). */
export interface CollectionRegistry<Entity, Input, Patch> {
  create(input: Input, context?: ActorContext): Promise<Entity>;
  get(id: string): Promise<Entity>;
  list(options?: {
    cursor?: string;
    limit?: number;
  }): Promise<{ data: Entity[]; next_cursor: string | null }>;
  update(id: string, patch: Patch, context?: ActorContext): Promise<Entity>;
  delete(id: string, context?: ActorContext): Promise<void>;
  versions(
    id: string,
  ): Promise<Array<{ version: number; created_at: string; actor: string | null; data: unknown }>>;
  revert(id: string, version: number, context?: ActorContext): Promise<Entity>;
}

export interface Collection<E extends z.ZodType, I extends z.ZodType, P extends z.ZodType> {
  /** Path segment: `/api/<path>`. */
  path: string;
  /** The kind of its ids (list cursors are ids of this kind). */
  idKind: IdKind;
  /** What one is called in summaries: `event destination`. */
  label: string;
  /** What the engine calls it in a refusal (`invalid destination: ...`). */
  bodyLabel?: string;
  tag: string;
  schemas: {
    entity: E;
    input: I;
    patch: P;
    page: z.ZodType;
    versions: z.ZodType;
  };
  registry: CollectionRegistry<z.output<E>, z.output<I>, z.output<P>>;
  /** Sets `enabled` (or flips it), where the collection can be switched on and off. */
  toggle?: (id: string, enabled: boolean | undefined, context: ActorContext) => Promise<z.output<E>>;
  /** Create and patch fields whose value must never be echoed (a webhook URL). */
  sensitive?: string[];
  /** False where the collection declares its own create route (destinations: from a template too). */
  create?: boolean;
}

/** The routes of a collection. */
export function collectionRoutes<E extends z.ZodType, I extends z.ZodType, P extends z.ZodType>(
  c: Collection<E, I, P>,
): Route[] {
  const base = `/api/${c.path}`;
  const item = `${base}/{id}` as const;
  const listQuery = listQuerySchema(c.idKind);
  const label = c.bodyLabel ?? c.label;
  const { registry, schemas } = c;
  const routes: Route[] = [
    defineRoute({
      method: 'GET',
      path: base,
      summary: `List ${c.label}s, oldest first.`,
      tag: c.tag,
      access: 'read',
      query: listQuery,
      responses: { 200: { description: `A page of ${c.label}s.`, schema: schemas.page } },
      async handle({ query }) {
        return reply(200, await registry.list(query));
      },
    }),
    defineRoute({
      method: 'GET',
      path: item,
      summary: `Get a ${c.label}.`,
      tag: c.tag,
      access: 'read',
      responses: { 200: { description: `The ${c.label}.`, schema: schemas.entity } },
      async handle({ params }) {
        return reply(200, await registry.get(params.id));
      },
    }),
    defineRoute({
      method: 'PATCH',
      path: item,
      summary: `Change fields of a ${c.label} (a new version).`,
      tag: c.tag,
      access: 'write',
      body: { schema: schemas.patch, label, required: true, sensitive: c.sensitive },
      responses: { 200: { description: `The ${c.label}.`, schema: schemas.entity } },
      async handle({ params, body, actor }) {
        return reply(200, await registry.update(params.id, body, actor));
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: item,
      summary: `Delete a ${c.label} (its version history stays).`,
      tag: c.tag,
      access: 'write',
      responses: { 204: { description: 'Deleted.', schema: noBody } },
      async handle({ params, actor }) {
        await registry.delete(params.id, actor);
        return reply(204, undefined);
      },
    }),
    defineRoute({
      method: 'GET',
      path: `${item}/versions`,
      summary: `Every version of a ${c.label}, oldest first.`,
      tag: c.tag,
      access: 'read',
      responses: { 200: { description: 'Versions.', schema: schemas.versions } },
      async handle({ params }) {
        return reply(200, { data: await registry.versions(params.id) });
      },
    }),
    defineRoute({
      method: 'POST',
      path: `${item}/revert`,
      summary: `Make an old version of a ${c.label} current again (as a new version).`,
      tag: c.tag,
      access: 'write',
      body: { schema: revertBodySchema, label: 'revert', required: true },
      responses: { 200: { description: `The ${c.label}.`, schema: schemas.entity } },
      async handle({ params, body, actor }) {
        return reply(200, await registry.revert(params.id, body.version, actor));
      },
    }),
  ];
  if (c.create !== false) {
    routes.unshift(
      defineRoute({
        method: 'POST',
        path: base,
        summary: `Create a ${c.label}.`,
        tag: c.tag,
        access: 'write',
        body: { schema: schemas.input, label, required: true, sensitive: c.sensitive },
        responses: { 201: { description: `The new ${c.label}.`, schema: schemas.entity } },
        async handle({ body, actor }) {
          return reply(201, await registry.create(body, actor));
        },
      }),
    );
  }
  const toggle = c.toggle;
  if (toggle) {
    routes.push(
      defineRoute({
        method: 'PUT',
        path: `${item}/toggle`,
        summary: `Flip a ${c.label} on or off, or set it with {"enabled": true|false}; answers the new state.`,
        tag: c.tag,
        access: 'write',
        body: { schema: toggleBodySchema, label: 'toggle' },
        responses: {
          200: { description: `The ${c.label}, with its new \`enabled\`.`, schema: schemas.entity },
        },
        async handle({ params, body, actor }) {
          return reply(200, await toggle(params.id, body.enabled, actor));
        },
      }),
    );
  }
  return routes;
}
