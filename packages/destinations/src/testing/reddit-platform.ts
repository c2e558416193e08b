/**
 * A local stand-in for the Reddit Conversions API v3 (tests only), checking requests the way
 * docs/destinations.md (Reddit) describes them: the path, `Authorization: Bearer`, a User-Agent of
 * the sender's own (generic agents are throttled), `{data: {events, test_id?}}` with at most 1000
 * events (one with a `test_id`), `event_at` in milliseconds no older than 7 days, the tracking types,
 * hashed `email` / `phone_number` / `external_id` / `ip_address`. One invalid event fails the whole
 * request with a 400, as Reddit does; the violation is listed in `violations`.
 */
import type { RecordedTestRequest, TestResponse } from '@openpipes/core/testing';
import {
  isHashed,
  isObject,
  type Json,
  looksHashed,
  pathOf,
  type StandIn,
  scriptQueue,
  unknownKeys,
} from './stand-in-kit.js';

/** Reddit's error body `{message}` (its v3 shape is unverified: docs/destinations.md). */
export function redditError(status: number, message: string): TestResponse {
  return { status, body: { message } };
}

/** Reddit's 400 for invalid events: `{message, invalid_events: [{error_message, event}]}`. */
export function redditInvalidEvents(invalid: Array<{ error_message: string; event: unknown }>): TestResponse {
  return {
    status: 400,
    body: {
      message: `There were ${invalid.length} invalid conversion events. None were processed.`,
      invalid_events: invalid,
    },
  };
}

export interface RedditPlatform extends StandIn {
  /** Every event Reddit recorded (not test events). */
  accepted: Json[];
  /** Every event sent with a test_id, with it. */
  tested: Array<{ testId: string; event: Json }>;
}

const trackingTypes = [
  'PAGE_VISIT',
  'VIEW_CONTENT',
  'SEARCH',
  'ADD_TO_CART',
  'ADD_TO_WISHLIST',
  'PURCHASE',
  'LEAD',
  'SIGN_UP',
  'CUSTOM',
];
const eventKeys = ['event_at', 'action_source', 'event_source_url', 'click_id', 'type', 'metadata', 'user'];
const metadataKeys = ['conversion_id', 'currency', 'value', 'item_count', 'products'];
const hashedKeys = ['email', 'phone_number', 'external_id', 'ip_address'];
const plainKeys = ['user_agent', 'uuid', 'idfa', 'aaid'];
const userKeys = [...hashedKeys, ...plainKeys, 'screen_dimensions', 'data_processing_options'];

/** Why Reddit refuses event `i`, or null. */
function eventProblem(event: unknown, i: number, now: number): string | null {
  const at = `events[${i}]`;
  if (!isObject(event)) return `${at} must be an object`;
  const extra = unknownKeys(event, eventKeys);
  if (extra.length > 0) return `${at}.${extra[0]} is not a conversion event field`;
  if (!Number.isInteger(event.event_at) || (event.event_at as number) < 1e12) {
    return `${at}.event_at must be Unix milliseconds`;
  }
  if ((event.event_at as number) < now - 7 * 86400_000) return `${at}.event_at is more than 7 days old`;
  if (!['WEBSITE', 'APP', 'PHYSICAL_STORE', 'OTHER'].includes(event.action_source as string)) {
    return `${at}.action_source must be WEBSITE, APP, PHYSICAL_STORE or OTHER`;
  }
  if (event.click_id !== undefined && (typeof event.click_id !== 'string' || looksHashed(event.click_id))) {
    return `${at}.click_id must be the rdt_cid as given`;
  }
  const type = event.type;
  if (!isObject(type) || !trackingTypes.includes(type.tracking_type as string)) {
    return `${at}.type.tracking_type is not a Reddit tracking type`;
  }
  if (type.tracking_type === 'CUSTOM' && typeof type.custom_event_name !== 'string') {
    return `${at}.type.custom_event_name is required for CUSTOM`;
  }
  const m = event.metadata;
  if (m !== undefined) {
    if (!isObject(m)) return `${at}.metadata must be an object`;
    const extraMeta = unknownKeys(m, metadataKeys);
    if (extraMeta.length > 0) return `${at}.metadata.${extraMeta[0]} is not a metadata field`;
    if (m.value !== undefined && typeof m.value !== 'number') return `${at}.metadata.value must be a number`;
    if (m.item_count !== undefined && !Number.isInteger(m.item_count)) {
      return `${at}.metadata.item_count must be an integer`;
    }
  }
  const u = event.user;
  if (!isObject(u)) return `${at}.user is required`;
  const extraUser = unknownKeys(u, userKeys);
  if (extraUser.length > 0) return `${at}.user.${extraUser[0]} is not a user field`;
  for (const key of hashedKeys) {
    if (key in u && (typeof u[key] !== 'string' || !isHashed(u[key]))) {
      return `${at}.user.${key} must be a SHA-256 hex digest`;
    }
  }
  for (const key of plainKeys) {
    if (looksHashed(u[key])) return `${at}.user.${key} must not be hashed`;
  }
  if (
    !event.click_id &&
    !u.email &&
    !u.phone_number &&
    !u.external_id &&
    !u.uuid &&
    !u.ip_address &&
    !u.idfa &&
    !u.aaid
  ) {
    return `${at} needs a match key (click_id, email, phone_number, external_id, uuid, ip_address, idfa or aaid)`;
  }
  return null;
}

export function redditPlatform(options: { pixelId: string; token: string }): RedditPlatform {
  const violations: string[] = [];
  const accepted: Json[] = [];
  const tested: Array<{ testId: string; event: Json }> = [];
  const script = scriptQueue();
  const invalid = (why: string, event?: unknown) => {
    violations.push(why);
    return event === undefined ? redditError(400, why) : redditInvalidEvents([{ error_message: why, event }]);
  };

  const handler = (request: RecordedTestRequest): TestResponse => {
    const path = pathOf(request);
    if (request.method !== 'POST' || path !== `/api/v3/pixels/${options.pixelId}/conversion_events`) {
      violations.push(`unexpected ${request.method} ${request.url}`);
      return redditError(404, 'Not Found');
    }
    if (request.url.includes('?')) return invalid('no query parameters are expected');
    if (request.headers.authorization !== `Bearer ${options.token}`) {
      return redditError(401, 'Unauthorized');
    }
    const agent = String(request.headers['user-agent'] ?? '');
    if (!agent || /^(node|undici|python-requests|curl)/i.test(agent)) {
      violations.push(`generic User-Agent "${agent}"`);
      return { status: 429, headers: { 'retry-after': '60' }, body: { message: 'Too Many Requests' } };
    }
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      return invalid('content-type must be application/json');
    }
    const body = request.json;
    if (!isObject(body) || !isObject(body.data)) return invalid('body must be {"data": {...}}');
    if (unknownKeys(body, ['data']).length > 0) return invalid('only "data" is allowed at the top level');
    const extra = unknownKeys(body.data, ['events', 'test_id', 'partner']);
    if (extra.length > 0) return invalid(`data.${extra[0]} is not allowed`);
    const events = body.data.events;
    const testId = body.data.test_id;
    if (!Array.isArray(events) || events.length === 0) return invalid('data.events must be a non-empty list');
    if (events.length > 1000) return invalid(`data.events has ${events.length} events; the maximum is 1000`);
    if (testId !== undefined && (typeof testId !== 'string' || events.length !== 1)) {
      return invalid('a request with data.test_id carries exactly one event');
    }
    const now = Date.now();
    for (const [i, event] of events.entries()) {
      const problem = eventProblem(event, i, now);
      if (problem) return invalid(problem, event);
    }
    const scripted = script.take(request);
    if (scripted) return scripted;
    if (typeof testId === 'string') tested.push(...(events as Json[]).map((event) => ({ testId, event })));
    else accepted.push(...(events as Json[]));
    return {
      status: 200,
      body: { data: { message: `Successfully processed ${events.length} conversion events.` } },
    };
  };
  return { handler, violations, accepted, tested, answerNext: script.push };
}
