/**
 * The property suite: for every operation of the OpenAPI document, random and mutated requests
 * against a real server (port 0) on one store. Every answer must have a status the operation
 * documents, a body that validates against the document (ajv), never a 5xx; `/healthz` must answer
 * 200 after every request.
 *
 * Replay: the suite prints its seed. `FC_SEED=<seed>` replays the whole suite (requests are
 * generated in the same order against a fresh server); `FC_ONLY=<operation>` with `FC_PATH=<path>`
 * (both from the failure message) replays one operation's shrunk counterexample. `FC_RUNS` sets the
 * runs per operation (never fewer than 100 under CI=true). Through `npm test`, turbo passes FC_*.
 *
 * Time budget: the suite is written to stay under 60 s per store on a 2-core machine (about 60
 * operations x 100 runs, two requests per run); it prints the time it took. Nothing asserts on it:
 * speed is measured in benchmarks, not in tests.
 */
import { metaExampleSend, purchaseEvent } from '@openpipes/core/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkerFor, type OpenApiChecker } from '../openapi-check.js';
import { type Fixture, privacyKey, readKey, type StoreName, startFixture, writeKey } from '../servers.js';
import { echoTemplate } from '../templates.js';
import {
  garbageBody,
  type Hint,
  mutated,
  pathParam,
  queryValue,
  type Schema,
  type SchemaContext,
  valueFor,
} from './arbitraries.js';

const inCi = !['', '0', 'false', undefined].includes(process.env.CI);
// FC_RUNS may lower the runs while iterating locally; CI always runs at least 100 per operation.
const runs = Math.max(Number(process.env.FC_RUNS ?? 100), inCi ? 100 : 1);
const baseSeed =
  process.env.FC_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FC_SEED);

/** One request, as generated. */
interface GeneratedRequest {
  path: string;
  query: string;
  auth: 'privacy' | 'write' | 'read' | 'none' | 'wrong';
  contentType: string | null;
  accept: string | null;
  origin: string | null;
  body: string | Uint8Array | undefined;
}

/** The operations of the document, DELETEs last (they remove what the others use). */
function operationsOf(document: Schema): Array<{ method: string; template: string; operation: Schema }> {
  const out: Array<{ method: string; template: string; operation: Schema }> = [];
  for (const [template, item] of Object.entries(document.paths as Record<string, Record<string, Schema>>)) {
    for (const [method, operation] of Object.entries(item))
      out.push({ method: method.toUpperCase(), template, operation });
  }
  return out.sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
}

/** The kind of id a path's `{id}` takes. */
const kindByCollection: Record<string, string> = {
  sources: 'source',
  'event-types': 'event_type',
  secrets: 'secret',
  'event-destinations': 'destination',
  pipes: 'pipe',
  'alert-channels': 'alert_channel',
  'api-keys': 'api_key',
  'event-deliveries': 'delivery',
};

const validSend = 'async function send({ events }) { return { outcome: "delivered" }; }';
const validTransform = 'function transform({ events }) { return events; }';

/**
 * Runs the property suite on `store`.
 *
 * @example
 * ```ts
 * runPropertySuite('sqlite', await localDocument());
 * ```
 */
export function runPropertySuite(store: StoreName, document: Schema): void {
  describe(`every operation of the OpenAPI document, fuzzed on ${store}`, () => {
    let f: Fixture;
    let checker: OpenApiChecker;
    const ids: Record<string, string[]> = {};
    let started = 0;

    beforeAll(async () => {
      started = Date.now();
      console.log(
        `[property ${store}] seed ${baseSeed}, ${runs} runs per operation (replay: FC_SEED=${baseSeed})`,
      );
      f = await startFixture('node', { templates: [echoTemplate] }, { store });
      checker = await checkerFor(f.base);
      const { pipes } = f;
      await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object' } });
      const token = await pipes.secrets.create({ key: 'TOKEN', value: 'fuzz-secret-value-0123456789' });
      const hook = await pipes.secrets.create({ key: 'HOOK', value: `${f.meta.url}/hook` });
      const web = await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.sources.create({
        name: 'Backend',
        slug: 'backend',
        auth: { type: 'bearer', secret_id: token.id },
      });
      const sink = await pipes.destinations.create({ name: 'sink', send: metaExampleSend(f.meta.url) });
      const pipe = await pipes.pipes.create({ name: 'web-pipe', source_id: web.id, destination_id: sink.id });
      await pipes.pipes.enable(pipe.id);
      const channel = await pipes.alerts.channels.create({
        name: 'ops',
        type: 'webhook',
        url_secret_id: hook.id,
      });
      const key = await pipes.apiKeys.create({ name: 'reader', scope: 'read' });
      const accepted = await pipes.ingest(
        'web',
        [1, 2, 3].map((n) => purchaseEvent(`ord_fuzz_${n}`)),
      );
      const audit = await pipes.audit.list({ limit: 3 });
      Object.assign(ids, {
        source: [web.id],
        event_type: [(await pipes.eventTypes.list()).data[0]!.id],
        secret: [token.id, hook.id],
        destination: [sink.id],
        pipe: [pipe.id],
        alert_channel: [channel.id],
        api_key: [key.id],
        delivery: (await pipes.deliveries.list(pipe.id)).data.map((d) => d.id),
        audit: audit.data.map((e) => e.id),
        slug: ['web', 'backend'],
      });
      expect(accepted.accepted).toBe(3);
    });
    afterAll(async () => {
      await f?.close();
      console.log(
        `[property ${store}] seed ${baseSeed}: ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
      );
    });

    const anyId = () => Object.values(ids).flat();
    const idsOf = (kind: string) => fc.constantFrom(...(ids[kind]?.length ? ids[kind]! : ['none']));
    const hint: Hint = (name, schema) => {
      if (schema.type === 'string' || (Array.isArray(schema.type) && schema.type.includes('string'))) {
        const id = /^(source|destination|secret|url_secret|pipe)_id$/.exec(name)?.[1];
        if (id)
          return fc.oneof({ arbitrary: idsOf(id === 'url_secret' ? 'secret' : id), weight: 4 }, fc.string());
        if (name === 'send') return fc.oneof({ arbitrary: fc.constant(validSend), weight: 3 }, fc.string());
        if (name === 'transform') {
          return fc.oneof(
            { arbitrary: fc.constant(validTransform), weight: 2 },
            fc.constant(null),
            fc.string(),
          );
        }
        if (name === 'url') return fc.oneof(fc.constant(`${f.meta.url}/hook`), fc.string());
        if (name === 'template') return fc.oneof({ arbitrary: fc.constant('echo'), weight: 3 }, fc.string());
        if (name === 'event_type')
          return fc.oneof({ arbitrary: fc.constant('purchase'), weight: 3 }, fc.string());
      }
      if ((name === 'version' || name === 'pipe_version') && schema.type === 'integer') {
        return fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 4 }, fc.integer());
      }
      if (name === 'settings') return fc.oneof(fc.constant({ url: `${f.meta.url}/echo` }), fc.object());
      if (name === 'schema' && schema.type === 'object') {
        return fc.oneof(fc.constant({ type: 'object' }), fc.constant({}), fc.object({ maxDepth: 2 }));
      }
      if (schema.type === 'array' && /^(secret_?[iI]ds|pipe_ids|ids)$/.test(name)) {
        const kind = name === 'pipe_ids' ? 'pipe' : name === 'ids' ? 'delivery' : 'secret';
        return fc.array(fc.oneof({ arbitrary: idsOf(kind), weight: 4 }, fc.string()), { maxLength: 3 });
      }
      return undefined;
    };

    /** The arbitrary of one operation's requests. */
    const requests = (template: string, operation: Schema): fc.Arbitrary<GeneratedRequest> => {
      const context: SchemaContext = { document: checker.document, hint };
      const collection = /^\/api\/([a-z-]+)\/\{id\}/.exec(template)?.[1];
      const kind = template.startsWith('/collect/')
        ? 'slug'
        : (kindByCollection[collection ?? ''] ?? 'source');
      const param = pathParam(ids[kind] ?? [], anyId());
      const parameters = ((operation.parameters ?? []) as Schema[]).filter((p) => p.in === 'query');
      const query = fc
        .tuple(
          ...parameters.map((p) =>
            fc.option(queryValue(p.schema, context), { freq: 2 }).map((v) => [p.name, v] as const),
          ),
          // Now and then a parameter the operation does not take (or one it takes, twice).
          fc.oneof(
            { arbitrary: fc.constant(null), weight: 8 },
            { arbitrary: fc.constantFrom('lmit', 'verbose', 'cursor', 'limit', '_'), weight: 1 },
          ),
        )
        .map((pairs) => {
          const search = new URLSearchParams();
          for (const pair of pairs) {
            if (Array.isArray(pair) && pair[1] !== null) search.append(pair[0], pair[1] as string);
            else if (typeof pair === 'string') search.append(pair, '1');
          }
          const text = search.toString();
          return text ? `?${text}` : '';
        });
      const requestSchema = operation.requestBody?.content?.['application/json']?.schema as
        | Schema
        | undefined;
      const valid = requestSchema ? valueFor(requestSchema, context) : fc.constant(undefined);
      const body: fc.Arbitrary<string | Uint8Array | undefined> = requestSchema
        ? fc.oneof(
            { arbitrary: valid.map((v) => JSON.stringify(v)), weight: 5 },
            { arbitrary: mutated(valid), weight: 4 },
            { arbitrary: garbageBody, weight: 1 },
            { arbitrary: fc.constant(undefined), weight: 1 },
          )
        : fc.oneof({ arbitrary: fc.constant(undefined), weight: 8 }, { arbitrary: garbageBody, weight: 1 });
      return fc.record({
        path: fc
          .constant(template)
          .chain((t) => (t.includes('{') ? param.map((p) => t.replace(/\{\w+\}/, p)) : fc.constant(t))),
        query,
        auth: fc.oneof(
          // Personal-data operations mostly with the key that may call them (docs/security.md).
          {
            arbitrary: fc.constant(
              (operation as { 'x-openpipes-scope'?: string })['x-openpipes-scope'] === 'privacy'
                ? ('privacy' as const)
                : ('write' as const),
            ),
            weight: 16,
          },
          { arbitrary: fc.constantFrom('read' as const, 'none' as const, 'wrong' as const), weight: 3 },
        ),
        contentType: fc.oneof(
          { arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8'), weight: 16 },
          {
            arbitrary: fc.constantFrom(
              'text/plain',
              'application/json; charset=latin1',
              'application/xml',
              null,
            ),
            weight: 2,
          },
        ),
        accept: fc.constantFrom(null, null, null, 'application/x-ndjson'),
        origin: fc.constantFrom(null, null, null, 'https://shop.example', 'null'),
        body,
      });
    };

    const send = async (method: string, request: GeneratedRequest) => {
      const headers: Record<string, string> = {};
      const token = {
        privacy: privacyKey.token,
        write: writeKey.token,
        read: readKey.token,
        wrong: 'op_wrong_0123456789abcdef',
        none: null,
      }[request.auth];
      if (token) headers.authorization = `Bearer ${token}`;
      if (request.contentType) headers['content-type'] = request.contentType;
      if (request.accept) headers.accept = request.accept;
      if (request.origin) headers.origin = request.origin;
      const path = `${request.path}${request.query}`;
      const response = await fetch(`${f.base}${path}`, {
        method,
        headers,
        ...(request.body === undefined || method === 'GET' ? {} : { body: request.body }),
        signal: AbortSignal.timeout(20_000),
      });
      const answer = { status: response.status, headers: response.headers, text: await response.text() };
      return { path, answer };
    };

    // One test per operation, in order (they share the server and its data, as clients would).
    const operations = operationsOf(document);
    it('covers every operation of the document', () => {
      expect(operations.length).toBeGreaterThan(50);
    });
    const seen = new Map<string, Set<number>>();
    for (const [index, { method, template, operation }] of operations.entries()) {
      const name = `${method} ${template}`;
      const only = process.env.FC_ONLY;
      it.skipIf(only !== undefined && only !== name)(name, { timeout: 120_000 }, async () => {
        const statuses = new Set<number>();
        seen.set(name, statuses);
        await fc
          .assert(
            fc.asyncProperty(requests(template, operation), async (request) => {
              const { path, answer } = await send(method, request);
              statuses.add(answer.status);
              expect(
                answer.status,
                `${name}: ${method} ${path} answered ${answer.status}: ${answer.text.slice(0, 300)}`,
              ).toBeLessThan(500);
              checker.check(method, path, answer);
              const health = await fetch(`${f.base}/healthz`);
              expect(health.status, `/healthz after ${method} ${path}`).toBe(200);
              checker.check('GET', '/healthz', {
                status: health.status,
                headers: health.headers,
                text: await health.text(),
              });
            }),
            {
              numRuns: runs,
              seed: baseSeed + index,
              ...(process.env.FC_ONLY && process.env.FC_PATH ? { path: process.env.FC_PATH } : {}),
            },
          )
          .catch((err: Error) => {
            throw new Error(
              `${name} (replay: FC_SEED=${baseSeed} FC_ONLY='${name}' FC_PATH=<path below>)\n${err.message}`,
            );
          });
      });
    }
    afterAll(() => {
      // What each operation answered: shows the generators reach past the first 400.
      console.log(
        `[property ${store}] statuses seen:\n${[...seen].map(([n, s]) => `  ${n}: ${[...s].sort().join(' ')}`).join('\n')}`,
      );
    });
  });
}
