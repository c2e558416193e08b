/**
 * `/api/config/export` and `/api/config/import`: the configuration as one document, moved between
 * instances; optionally streamed as progress lines (NDJSON) for large instances.
 */
import {
  type ConfigProgress,
  configDocumentSchema,
  configEntityKinds,
  configImportResultSchema,
  type Logger,
  type Pipes,
  silentLogger,
  toPipesError,
} from '@openpipes/core';
import { z } from 'zod';
import { requestComponent, responseComponent } from '../components.js';
import { defineRoute, type Route, reply } from '../route.js';
import { configImportQuerySchema, errorBodySchema } from '../schemas.js';

const configDocument = responseComponent('ConfigDocument', configDocumentSchema);
const configDocumentInput = requestComponent('ConfigDocumentInput', configDocumentSchema);
const configImportResult = responseComponent('ConfigImportResult', configImportResultSchema);

const configProgressSchema = z.object({
  phase: z.enum(['read', 'check', 'apply']),
  done: z.number().int(),
  total: z.number().int(),
  kind: z.enum(configEntityKinds).optional(),
  name: z.string().optional(),
});

/** One line of a streamed (NDJSON) answer: progress, then the result or an error. */
const progressLine = (result: z.ZodType) =>
  z.xor([
    z.strictObject({ progress: configProgressSchema }),
    z.strictObject({ result }),
    z.strictObject({ error: errorBodySchema.shape.error }),
  ]);

const exportLine = responseComponent('ConfigExportLine', progressLine(configDocument));
const importLine = responseComponent('ConfigImportLine', progressLine(configImportResult));

export function configRoutes(pipes: Pipes, logger: Logger | undefined): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/config/export',
      summary:
        'The configuration as one document (sources, event types, secret names, destinations, pipes, alert ' +
        'channels; never a secret value or a webhook URL). With `Accept: application/x-ndjson`, progress lines ' +
        '`{"progress": {...}}` come first and the document last, as `{"result": {...}}`.',
      tag: 'Config',
      access: 'read',
      responses: {
        200: {
          description: 'The configuration document (or, streamed, progress lines and then it).',
          schema: configDocument,
          mediaTypes: { 'application/x-ndjson': exportLine },
        },
      },
      async handle({ request, requestId }) {
        if (wantsProgress(request)) {
          return progressStream(logger, requestId, (onProgress) => pipes.config.export({ onProgress }));
        }
        return reply(200, await pipes.config.export());
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/config/import',
      summary:
        'Make this instance match a configuration document (matched by slug, name and key; idempotent). ' +
        'Answers the plan: each entity created, updated, unchanged or skipped, and the secrets that still ' +
        'need a value. `?dry_run=true` plans and checks without writing. With `Accept: application/x-ndjson`, ' +
        'progress lines come first and the answer last, as `{"result": {...}}` (or `{"error": {...}}`).',
      tag: 'Config',
      access: 'write',
      query: configImportQuerySchema,
      body: { schema: configDocumentInput, label: 'config document', required: true, large: true },
      responses: {
        200: {
          description: 'The plan, applied or not (or, streamed, progress lines and then it).',
          schema: configImportResult,
          mediaTypes: { 'application/x-ndjson': importLine },
        },
      },
      async handle({ request, requestId, query, body, actor }) {
        const run = (onProgress?: (p: ConfigProgress) => void) =>
          pipes.config.import(body, { dryRun: query.dry_run, context: actor, onProgress });
        if (wantsProgress(request)) return progressStream(logger, requestId, run);
        return reply(200, await run());
      },
    }),
  ];
}

/** True when the client asked for progress lines (`Accept: application/x-ndjson`). */
function wantsProgress(request: Request): boolean {
  return (request.headers.get('accept') ?? '').toLowerCase().includes('application/x-ndjson');
}

/**
 * A streamed answer for long operations: NDJSON lines `{"progress": {...}}` (at most every 100 ms,
 * and at each phase's start and end), then `{"result": ...}` or `{"error": {code, message}}`.
 * The status is 200 before the work is done, so a failure is reported in the last line.
 */
function progressStream(
  logger: Logger | undefined,
  requestId: string,
  run: (onProgress: (progress: ConfigProgress) => void) => Promise<unknown>,
): Response {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const emit = (line: unknown) => controller.enqueue(encoder.encode(`${JSON.stringify(line)}\n`));
      let last = { phase: '', at: 0 };
      const onProgress = (progress: ConfigProgress) => {
        const now = Date.now();
        const edge = progress.phase !== last.phase || progress.done === 0 || progress.done === progress.total;
        if (!edge && now - last.at < 100) return;
        last = { phase: progress.phase, at: now };
        emit({ progress });
      };
      try {
        emit({ result: await run(onProgress) });
      } catch (err) {
        const error = toPipesError(err);
        if (error.code === 'INTERNAL') {
          (logger ?? silentLogger).error('OpenPipes HTTP request failed', {
            request_id: requestId,
            code: error.code,
            error: error.message,
          });
          emit({
            error: {
              code: error.code,
              message: `internal error; the server log has it under request id ${requestId}`,
            },
          });
        } else {
          emit({ error: error.toJSON() });
        }
      }
      controller.close();
    },
  });
  return new Response(stream, {
    status: 200,
    headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' },
  });
}
