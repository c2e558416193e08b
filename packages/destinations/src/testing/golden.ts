/**
 * Golden requests: what a template's `send()` puts on the wire for its canonical fixtures, written
 * to `src/goldens/<template>.json` and compared byte for byte (method, URL, headers, body text). A
 * refactoring of the templates must leave these files unchanged; a deliberate change of the wire
 * rewrites them with `UPDATE_GOLDENS=1 npx vitest run src/golden.test.ts` and shows in the diff.
 */
import type { DestinationDefinition } from '@openpipes/core';
import { type RecordedTestRequest, runSend, runTransform, type TestResponse } from '@openpipes/core/testing';

export interface GoldenRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** The body exactly as sent (text), with the event time written as placeholders. */
  body: string | null;
}

/** A stand-in's handler answers the golden run (and checks each request as the platform would). */
export type StandInHandler = (request: RecordedTestRequest) => TestResponse;

/**
 * A fixed event time (a whole hour, one hour ago) and the ways the templates write it. The hour
 * moves, so each rendering is replaced by a placeholder before comparing; everything else is exact.
 */
export function goldenEventTime(now = Date.now()): { iso: string; renderings: Array<[string, string]> } {
  const ms = Math.floor(now / 3_600_000) * 3_600_000 - 3_600_000;
  const seconds = ms / 1000;
  const iso = new Date(ms).toISOString();
  const google = `${iso.slice(0, 10)} ${iso.slice(11, 19)}+00:00`;
  // Longest first: the microseconds and milliseconds begin with the seconds.
  return {
    iso,
    renderings: [
      [`${seconds}000000`, '<EVENT_TIME_MICROS>'],
      [`${seconds}000`, '<EVENT_TIME_MS>'],
      [iso, '<EVENT_TIME_ISO>'],
      [iso.replace('.000Z', 'Z'), '<EVENT_TIME_ISO_S>'],
      [google, '<EVENT_TIME_GOOGLE>'],
      [String(seconds), '<EVENT_TIME_S>'],
    ],
  };
}

function placeholders(text: string, replacements: Array<[RegExp | string, string]>): string {
  let out = text;
  for (const [from, to] of replacements) out = out.split(from as string).join(to);
  return out;
}

/** A `fetch` that answers from a stand-in's handler without any network. */
export function standInFetch(handler: StandInHandler) {
  return async (input: string, init: RequestInit): Promise<Response> => {
    const url = new URL(input);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((init.headers ?? {}) as Record<string, string>)) {
      headers[k.toLowerCase()] = v;
    }
    const text = typeof init.body === 'string' ? init.body : '';
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const answer = handler({
      method: String(init.method ?? 'GET'),
      url: url.pathname + url.search,
      headers,
      text,
      json,
      receivedAt: Date.now(),
    });
    const body =
      answer.body === undefined
        ? null
        : typeof answer.body === 'string'
          ? answer.body
          : JSON.stringify(answer.body);
    const status = answer.status ?? 200;
    const contentType: Record<string, string> =
      typeof answer.body === 'object' ? { 'content-type': 'application/json' } : {};
    return new Response(status === 204 ? null : body, {
      status,
      headers: { ...contentType, ...answer.headers },
    });
  };
}

/**
 * Runs the definition's default transform over `events`, then its `send()` once over the outputs,
 * answering with `handler`; returns the requests made, with the event time (and any `extra`
 * volatile values, such as an issued access token) as placeholders.
 */
export async function captureRequests(input: {
  definition: DestinationDefinition;
  events: Array<{ event_type: string; event_id: string; event_time: string; event_payload: object }>;
  secrets: Record<string, string>;
  handler: StandInHandler;
  renderings: Array<[string, string]>;
  extra?: Array<[RegExp, string]>;
}): Promise<GoldenRequest[]> {
  const transformed = await runTransform(input.definition.transform, {
    events: input.events as Parameters<typeof runTransform>[1]['events'],
  });
  const { exchanges } = await runSend(input.definition.destination.send, {
    events: transformed,
    secrets: input.secrets,
    fetch: standInFetch(input.handler),
  });
  const clean = (text: string) =>
    placeholders(placeholders(text, input.extra ?? []), input.renderings as Array<[string, string]>);
  return exchanges.map(({ request }) => ({
    method: request.method,
    url: clean(request.url),
    headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, clean(v)])),
    body: request.body === undefined ? null : clean(request.body),
  }));
}
