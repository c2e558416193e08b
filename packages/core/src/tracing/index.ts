/**
 * Traces through `@opentelemetry/api` only: the engine asks the global tracer provider (or the one
 * the host passes) for a tracer, which is a no-op until the host installs an OpenTelemetry SDK.
 * `tracing: false` turns even the no-op calls off.
 *
 * Spans (docs/observability.md):
 * - `POST /collect/{slug}` (server) per collect request, child of the request's `traceparent` (or
 *   of the host's own server span when its HTTP instrumentation made one), and `openpipes.ingest`
 *   under it, per ingest call. The ingest span's context is stored with each event it accepted.
 * - per claimed batch, a root span `openpipes.batch` with a link to the trace of each event in it
 *   (a batch mixes many traces), and under it `openpipes.claim`, `openpipes.transform` (per pipe),
 *   `openpipes.send` (per send() call) with one client span per HTTP exchange send() made (built
 *   on the main thread from the exchange's recorded start and duration: the worker thread that ran
 *   it is out of the host's instrumentation's sight), and `openpipes.record`.
 */
import {
  type Context,
  context,
  isSpanContextValid,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';

/**
 * How the engine traces.
 *
 * @example
 * ```ts
 * createPipes({ store, secretKey, tracing: { tracerProvider: provider } });
 * createPipes({ store, secretKey, tracing: false }); // not even no-op spans
 * ```
 */
export interface TracingOptions {
  /** The provider to take the tracer from; default the global one (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
}

/** The tracer the engine uses, or null when tracing is off. */
export function engineTracer(options: TracingOptions | false | undefined): Tracer | null {
  if (options === false) return null;
  const provider = options?.tracerProvider ?? trace.getTracerProvider();
  return provider.getTracer('@openpipes/core');
}

const traceParentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A span's context as a W3C `traceparent`; null when it is not valid (no trace). */
export function formatTraceParent(span: SpanContext): string | null {
  if (!isSpanContextValid(span)) return null;
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${span.traceId}-${span.spanId}-${flags}`;
}

/** A stored `traceparent` as a span context (remote); null when absent or malformed. */
export function parseTraceParent(value: string | null | undefined): SpanContext | null {
  const m = value ? traceParentPattern.exec(value) : null;
  if (!m) return null;
  const span = { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true };
  return isSpanContextValid(span) ? span : null;
}

/** The trace id of a stored `traceparent` (what a delivery record shows); null when none. */
export function traceIdOf(traceParent: string | null | undefined): string | null {
  return parseTraceParent(traceParent)?.traceId ?? null;
}

/**
 * Runs `fn` in a span, ending it when `fn` settles; a throw marks the span as an error (with the
 * error's `code` when it has one, never its message: messages may quote a sender's input).
 */
export async function inSpan<T>(
  tracer: Tracer | null,
  name: string,
  options: { kind?: SpanKind; attributes?: Record<string, string | number | boolean>; parent?: Context },
  fn: (span: Span | null) => Promise<T>,
): Promise<T> {
  if (!tracer) return fn(null);
  const parent = options.parent ?? context.active();
  const span = tracer.startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes ?? {} },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : 'error' });
    throw err;
  } finally {
    span.end();
  }
}

/** A request's headers, as the collect route reads them. */
export type HeaderGetter = (name: string) => string | null;

/**
 * The parent of a collect span: the host's active span when its instrumentation made one, else
 * the context the request's headers carry (through the host's propagator; none without an SDK).
 */
export function requestParent(header: HeaderGetter): Context {
  const active = context.active();
  if (trace.getSpanContext(active)) return active;
  return propagation.extract(ROOT_CONTEXT, header, {
    get: (carrier, key) => carrier(key) ?? undefined,
    keys: () => [],
  });
}

/** Links to the traces of a batch's events, one per distinct stored context. */
export function linksOf(traceParents: ReadonlyArray<string | null>): Link[] {
  const seen = new Set<string>();
  const links: Link[] = [];
  for (const value of traceParents) {
    if (!value || seen.has(value)) continue;
    seen.add(value);
    const span = parseTraceParent(value);
    if (span) links.push({ context: span });
  }
  return links;
}

export type { Context, Span, Tracer };
export { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace };

/**
 * Runs a collect request in a server span `POST /collect/{slug}`, child of what the request
 * carries (see {@link requestParent}); `statusOf` gives the answer's HTTP status.
 */
export async function collectSpan<T>(
  tracer: Tracer | null,
  input: { slug: string; header: HeaderGetter; statusOf: (result: T) => number },
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracer) return fn();
  return inSpan(
    tracer,
    'POST /collect/{slug}',
    {
      kind: SpanKind.SERVER,
      parent: requestParent(input.header),
      attributes: {
        'http.request.method': 'POST',
        'http.route': '/collect/{slug}',
        'openpipes.source': input.slug,
      },
    },
    async (span) => {
      const result = await fn();
      const status = input.statusOf(result);
      span?.setAttribute('http.response.status_code', status);
      if (status >= 500) span?.setStatus({ code: SpanStatusCode.ERROR });
      return result;
    },
  );
}
