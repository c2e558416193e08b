/**
 * A Standard Webhooks receiver for tests: checks each request as a receiver following the spec
 * would (https://www.standardwebhooks.com, v1.0.0) — the three headers, the signature over
 * `id.timestamp.body` keyed with the `whsec_` secret's bytes (constant-time compare, any of several
 * space-separated signatures), the timestamp within 5 minutes — and answers 401 to a bad one.
 * Independent of the template's code and of the `standardwebhooks` package the tests use as oracle.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RecordedTestRequest, TestResponse } from '@openpipes/core/testing';

export interface WebhookMessage {
  id: string;
  timestamp: number;
  method: string;
  headers: RecordedTestRequest['headers'];
  events: Array<Record<string, unknown>>;
}

export interface WebhookReceiver {
  handler: (request: RecordedTestRequest) => TestResponse;
  /** Requests a receiver must refuse, one line each. */
  violations: string[];
  /** Messages whose signature verified, in order (retries included). */
  messages: WebhookMessage[];
  answerNext(...answers: TestResponse[]): void;
}

/** The spec's signature of `content` with a `whsec_<base64>` secret: base64 HMAC-SHA256. */
export function standardWebhookSignature(secret: string, content: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return createHmac('sha256', key).update(content).digest('base64');
}

const toleranceSeconds = 5 * 60;

export function webhookReceiver(options: {
  secret: string;
  path?: string;
  method?: string;
}): WebhookReceiver {
  const violations: string[] = [];
  const messages: WebhookMessage[] = [];
  const queue: TestResponse[] = [];
  const refuse = (why: string): TestResponse => {
    violations.push(why);
    return { status: 401, body: { error: why } };
  };

  const handler = (request: RecordedTestRequest): TestResponse => {
    if (request.url !== (options.path ?? '/hooks')) return refuse(`unexpected path ${request.url}`);
    if (request.method !== (options.method ?? 'POST')) return refuse(`unexpected method ${request.method}`);
    const id = request.headers['webhook-id'];
    const timestamp = request.headers['webhook-timestamp'];
    const signatures = request.headers['webhook-signature'];
    if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') {
      return refuse('webhook-id, webhook-timestamp and webhook-signature are required');
    }
    if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) {
      return refuse('webhook-timestamp is not within 5 minutes');
    }
    const expected = Buffer.from(
      standardWebhookSignature(options.secret, `${id}.${timestamp}.${request.text}`),
    );
    const verified = signatures.split(' ').some((entry) => {
      const [version, value] = entry.split(',');
      const given = Buffer.from(value ?? '');
      return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
    });
    if (!verified) return refuse('no webhook-signature verifies');
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      violations.push('content-type must be application/json');
      return { status: 415, body: 'unsupported media type' };
    }
    const body = request.json as { events?: unknown };
    if (!body || !Array.isArray(body.events)) {
      violations.push('body must be {"events": [...]}');
      return { status: 400, body: 'bad body' };
    }
    messages.push({
      id,
      timestamp: Number(timestamp),
      method: request.method,
      headers: request.headers,
      events: body.events as Array<Record<string, unknown>>,
    });
    return queue.shift() ?? { status: 204 };
  };
  return { handler, violations, messages, answerNext: (...answers) => queue.push(...answers) };
}
