/**
 * Client spans for the HTTP exchanges a `send()` made. send() runs in a worker thread, out of the
 * host's instrumentation's sight, so the spans are built here on the main thread, after the call,
 * from each exchange's recorded start and duration. Their attributes carry no query string, no
 * header and no body, and the URL is redacted like a delivery record (a path may hold a token).
 */
import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { SendRun } from '../sandbox/types.js';
import type { Redactor } from '../secrets/redact.js';

/** One client span per exchange of `run`, children of `parent` (the `openpipes.send` span). */
export function exchangeSpans(tracer: Tracer, parent: Span, run: SendRun, redact: Redactor): void {
  const context = trace.setSpan(ROOT_CONTEXT, parent);
  for (const exchange of run.exchanges) {
    const start = Date.parse(exchange.startedAt);
    let url: URL | null = null;
    try {
      url = new URL(exchange.request.url);
    } catch {
      url = null;
    }
    const method = exchange.request.method.toUpperCase();
    const attributes: Record<string, string | number> = { 'http.request.method': method };
    if (url) {
      attributes['url.full'] = redact.text(`${url.origin}${url.pathname}`);
      attributes['server.address'] = url.hostname;
      attributes['url.scheme'] = url.protocol.replace(':', '');
    }
    if (exchange.response) attributes['http.response.status_code'] = exchange.response.status;
    const span = tracer.startSpan(method, { kind: SpanKind.CLIENT, startTime: start, attributes }, context);
    if (exchange.error) {
      span.setAttribute('error.type', exchange.error.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: exchange.error.code });
    } else if (exchange.response && exchange.response.status >= 400) {
      span.setAttribute('error.type', String(exchange.response.status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end(start + exchange.durationMs);
  }
}
