/**
 * Checks an answer against the OpenAPI document the server publishes: the operation is found by
 * method and path, the status must be one the operation lists (no `default` to hide behind), the
 * media type one it documents, and the body must validate (ajv, JSON Schema 2020-12). A path no
 * operation has must answer 404, a method the path does not have 405, both in the error format.
 * The test client runs every answer the suites see through it.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { createHandler } from '../src/index.js';
import { startSqliteEngine } from './sqlite-engine.js';

// ajv-formats is CommonJS; its default export arrives wrapped under some loaders.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => void;

type Json = Record<string, unknown>;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  responses: Record<string, { content?: Record<string, unknown> }>;
}

/** What the checker needs of an answer. */
export interface CheckedAnswer {
  status: number;
  headers: Headers;
  text: string;
}

export interface OpenApiChecker {
  /** The document checked against. */
  document: Json;
  /**
   * Throws when the answer to `method path` (path relative to the mount point, query included or
   * not) is not what the document says. Returns the operation's `METHOD template`, or null for a
   * path or method the document does not have.
   */
  check(method: string, path: string, answer: CheckedAnswer): string | null;
  /**
   * Whether the document accepts `body` as the JSON request body of `method template` (e.g.
   * `POST /api/sources`): the ajv errors, or an empty list. For tests that the document and the
   * server agree on what is refused.
   */
  requestErrors(method: string, template: string, body: unknown): string[];
}

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/**
 * Compiles a checker for `document` (an OpenAPI 3.1 document as `/openapi.json` serves it).
 *
 * @example
 * ```ts
 * const checker = createOpenApiChecker(await (await fetch(`${base}/openapi.json`)).json());
 * checker.check('GET', '/api/sources', answer);
 * ```
 */
export function createOpenApiChecker(document: Json): OpenApiChecker {
  // Not strict: the document carries OpenAPI keywords (`paths`, `x-openpipes-scope`) ajv does not know.
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addSchema(document, 'openapi');
  const validators = new Map<string, ValidateFunction>();
  const validator = (path: string): ValidateFunction => {
    let validate = validators.get(path);
    if (!validate) {
      validate = ajv.getSchema(`openapi#${path}`);
      if (!validate) throw new Error(`the document has no schema at ${path}`);
      validators.set(path, validate);
    }
    return validate;
  };

  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(document.paths as Record<string, Record<string, Json>>)) {
    const pattern = new RegExp(
      `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{\w+\\?\}/g, '([^/]+)')}$`,
    );
    for (const [method, operation] of Object.entries(item)) {
      operations.push({
        method: method.toUpperCase(),
        template,
        pattern,
        responses: operation.responses as Operation['responses'],
      });
    }
  }
  const errorSchema = '/components/schemas/Error';

  const fail = (what: string, method: string, path: string, answer: CheckedAnswer, why: string): never => {
    throw new Error(
      `${method} ${path} answered ${answer.status}, which the OpenAPI document does not allow: ${why}\n` +
        `${what}\nbody: ${answer.text.slice(0, 500)}`,
    );
  };
  const validate = (
    schemaPath: string,
    value: unknown,
    method: string,
    path: string,
    answer: CheckedAnswer,
  ) => {
    const check = validator(schemaPath);
    if (!check(value)) {
      fail(
        `schema ${schemaPath}`,
        method,
        path,
        answer,
        (check.errors ?? [])
          .slice(0, 5)
          .map(
            (e) =>
              `${e.instancePath || '(root)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
          )
          .join('; '),
      );
    }
  };
  const parse = (text: string, method: string, path: string, answer: CheckedAnswer): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      return fail('', method, path, answer, 'the body is not JSON');
    }
  };

  return {
    document,
    requestErrors(method, template, body) {
      const path = pointer(
        '',
        'paths',
        template,
        method.toLowerCase(),
        'requestBody',
        'content',
        'application/json',
        'schema',
      );
      const check = validator(path);
      return check(body) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`);
    },
    check(givenMethod, fullPath, answer) {
      const method = givenMethod.toUpperCase() === 'HEAD' ? 'GET' : givenMethod.toUpperCase();
      const head = givenMethod.toUpperCase() === 'HEAD';
      const path = (fullPath.split('?')[0] ?? '').replace(/(.)\/+$/, '$1');
      const onPath = operations.filter((o) => o.pattern.test(path));
      const operation = onPath.find((o) => o.method === method);
      if (!operation) {
        // Not an operation: the router's own answers, in the error format.
        const expected = onPath.length === 0 ? 404 : 405;
        if (answer.status !== expected) {
          fail('', givenMethod, fullPath, answer, `no operation has it, so it must answer ${expected}`);
        }
        if (!head)
          validate(
            errorSchema,
            parse(answer.text, givenMethod, fullPath, answer),
            givenMethod,
            fullPath,
            answer,
          );
        return null;
      }
      const name = `${operation.method} ${operation.template}`;
      const response = operation.responses[String(answer.status)];
      if (!response) {
        fail(
          name,
          givenMethod,
          fullPath,
          answer,
          `it lists ${Object.keys(operation.responses).join(', ')} (an undocumented status is a failure)`,
        );
      }
      if (head || answer.text === '') {
        if (answer.text !== '') fail(name, givenMethod, fullPath, answer, 'a HEAD answer has a body');
        if (!head && response!.content && answer.status !== 204) {
          fail(name, givenMethod, fullPath, answer, 'the body is empty but the document describes one');
        }
        return name;
      }
      const mediaType = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      const content = response!.content ?? {};
      if (!(mediaType in content)) {
        fail(
          name,
          givenMethod,
          fullPath,
          answer,
          `media type "${mediaType}" is not among ${Object.keys(content).join(', ') || 'none (no body)'}`,
        );
      }
      const base = pointer(
        '',
        'paths',
        operation.template,
        operation.method.toLowerCase(),
        'responses',
        String(answer.status),
        'content',
        mediaType,
        'schema',
      );
      if (mediaType === 'text/plain' || mediaType === 'application/javascript') {
        // A text answer (GET /metrics, GET /openpipes.js): the document's schema is a string.
        validate(base, answer.text, givenMethod, fullPath, answer);
      } else if (mediaType === 'application/x-ndjson') {
        for (const line of answer.text.split('\n').filter(Boolean)) {
          validate(base, parse(line, givenMethod, fullPath, answer), givenMethod, fullPath, answer);
        }
      } else {
        validate(base, parse(answer.text, givenMethod, fullPath, answer), givenMethod, fullPath, answer);
      }
      return name;
    },
  };
}

const checkers = new Map<string, Promise<OpenApiChecker>>();

/**
 * The checker for the server under `base` (its `/openapi.json`, fetched once per document; every
 * fixture serves the same document, so in practice once per test file).
 */
export function checkerFor(base: string): Promise<OpenApiChecker> {
  let checker = checkers.get(base);
  if (!checker) {
    checker = (async () => {
      const response = await fetch(`${base}/openapi.json`);
      if (response.status !== 200) throw new Error(`${base}/openapi.json answered ${response.status}`);
      return createOpenApiChecker((await response.json()) as Json);
    })();
    checkers.set(base, checker);
  }
  return checker;
}

/**
 * The document, built the way a server builds it but without one (the document comes from the
 * route table; the engine it is given is never started). For tests that need it while they are
 * being collected.
 */
export async function localDocument(): Promise<Json> {
  const engine = await startSqliteEngine('openapi', {}, { start: false });
  try {
    const handler = createHandler(engine.pipes);
    return (await (await handler(new Request('http://localhost/openapi.json'))).json()) as Json;
  } finally {
    await engine.stop();
  }
}
