/**
 * A local stand-in for the Pinterest Conversions API v5 (tests only), checking requests against
 * Pinterest's published OpenAPI description (pinterest/api-description, `events/create`): the path,
 * `Authorization: Bearer`, `?test=true`, at most 1000 events, no unknown fields
 * (`additionalProperties: false`), the required fields, lists of SHA-256 in `user_data`, money as
 * strings. A request that breaks the contract gets Pinterest's 400 `{code, message}` and is listed
 * in `violations`; events can be made to fail one by one (`failEvents`), as a 200 with per-event
 * statuses reports them.
 */
import type { RecordedTestRequest, TestResponse } from '@openpipes/core/testing';
import {
  isHashed,
  isObject,
  type Json,
  looksHashed,
  pathOf,
  queryOf,
  type StandIn,
  scriptQueue,
  unknownKeys,
} from './stand-in-kit.js';

/** Pinterest's error body. */
export function pinterestError(status: number, code: number, message: string): TestResponse {
  return { status, body: { code, message } };
}

export interface PinterestPlatform extends StandIn {
  /** Every event Pinterest processed and recorded. */
  accepted: Json[];
  /** Every event of a `?test=true` request (validated, not recorded). */
  tested: Json[];
  /** Events whose `event_id` is a key get status `failed` with that error message. */
  failEvents(byEventId: Record<string, string>): void;
}

const eventNames = [
  'add_payment_info',
  'add_to_cart',
  'add_to_wishlist',
  'app_install',
  'checkout',
  'custom',
  'initiate_checkout',
  'lead',
  'page_visit',
  'search',
  'signup',
  'subscribe',
  'view_category',
  'view_content',
  'watch_video',
];
const eventKeys = [
  'action_source',
  'app_id',
  'app_info',
  'app_name',
  'app_version',
  'custom_data',
  'device_brand',
  'device_carrier',
  'device_info',
  'device_model',
  'device_type',
  'event_id',
  'event_name',
  'event_source_url',
  'event_time',
  'language',
  'opt_out',
  'os_version',
  'partner_name',
  'user_data',
  'wifi',
];
const customKeys = [
  'content_brand',
  'content_category',
  'content_ids',
  'content_name',
  'contents',
  'currency',
  'external_measurement_id',
  'external_measurement_vendor_id',
  'np',
  'num_items',
  'opt_out_type',
  'order_id',
  'predicted_ltv',
  'search_string',
  'value',
];
const contentKeys = ['id', 'item_brand', 'item_category', 'item_name', 'item_price', 'quantity'];
const hashedKeys = [
  'em',
  'ph',
  'fn',
  'ln',
  'ct',
  'st',
  'zp',
  'country',
  'ge',
  'db',
  'external_id',
  'hashed_maids',
];
const plainKeys = ['client_ip_address', 'client_user_agent', 'click_id', 'partner_id'];

/** Why Pinterest's schema refuses event `i`, or null. */
function eventProblem(event: unknown, i: number): string | null {
  const at = `data[${i}]`;
  if (!isObject(event)) return `${at} must be an object`;
  const extra = unknownKeys(event, eventKeys);
  if (extra.length > 0) return `${at}.${extra[0]} is not allowed (additionalProperties: false)`;
  for (const key of ['event_name', 'action_source', 'event_time', 'user_data', 'event_id']) {
    if (event[key] === undefined) return `${at}.${key} is required`;
  }
  if (!eventNames.includes(event.event_name as string)) return `${at}.event_name is not a Pinterest event`;
  if (!['web', 'app_android', 'app_ios', 'offline'].includes(event.action_source as string)) {
    return `${at}.action_source must be web, app_android, app_ios or offline`;
  }
  if (!Number.isInteger(event.event_time)) return `${at}.event_time must be Unix seconds`;
  if (typeof event.event_id !== 'string') return `${at}.event_id must be a string`;
  const u = event.user_data;
  if (!isObject(u)) return `${at}.user_data must be an object`;
  for (const key of hashedKeys) {
    if (key in u && !(Array.isArray(u[key]) && isHashed(u[key]))) {
      return `${at}.user_data.${key} must be a list of SHA-256 hex digests`;
    }
  }
  for (const key of plainKeys) {
    if (key in u && (typeof u[key] !== 'string' || looksHashed(u[key]))) {
      return `${at}.user_data.${key} must be a plain string`;
    }
  }
  if (!u.em && !u.hashed_maids && !(u.client_ip_address && u.client_user_agent)) {
    return `${at}.user_data needs em, hashed_maids, or client_ip_address and client_user_agent`;
  }
  const c = event.custom_data;
  if (c === undefined) return null;
  if (!isObject(c)) return `${at}.custom_data must be an object`;
  const extraCustom = unknownKeys(c, customKeys);
  if (extraCustom.length > 0) return `${at}.custom_data.${extraCustom[0]} is not allowed`;
  if (c.value !== undefined && typeof c.value !== 'string') return `${at}.custom_data.value must be a string`;
  if (c.contents !== undefined) {
    if (!Array.isArray(c.contents)) return `${at}.custom_data.contents must be a list`;
    for (const [n, item] of c.contents.entries()) {
      if (!isObject(item)) return `${at}.custom_data.contents[${n}] must be an object`;
      const extraItem = unknownKeys(item, contentKeys);
      if (extraItem.length > 0) return `${at}.custom_data.contents[${n}].${extraItem[0]} is not allowed`;
      if (item.item_price !== undefined && typeof item.item_price !== 'string') {
        return `${at}.custom_data.contents[${n}].item_price must be a string`;
      }
      if (item.quantity !== undefined && !Number.isInteger(item.quantity)) {
        return `${at}.custom_data.contents[${n}].quantity must be an integer`;
      }
    }
  }
  return null;
}

export function pinterestPlatform(options: { adAccountId: string; token: string }): PinterestPlatform {
  const violations: string[] = [];
  const accepted: Json[] = [];
  const tested: Json[] = [];
  const failing: Record<string, string> = {};
  const script = scriptQueue();
  const invalid = (why: string, response = pinterestError(400, 4196, `The request was invalid: ${why}`)) => {
    violations.push(why);
    return response;
  };

  const handler = (request: RecordedTestRequest): TestResponse => {
    const path = pathOf(request);
    if (request.method !== 'POST' || path !== `/v5/ad_accounts/${options.adAccountId}/events`) {
      return invalid(`unexpected ${request.method} ${path}`, {
        status: 404,
        body: { code: 404, message: 'Not found' },
      });
    }
    const query = queryOf(request);
    const test = query.get('test');
    if (test !== null && test !== 'true' && test !== 'false') return invalid('test must be true or false');
    if ([...query.keys()].some((key) => key !== 'test')) return invalid('unexpected query parameter');
    if (request.headers.authorization !== `Bearer ${options.token}`) {
      return pinterestError(401, 2, 'Authentication failed.');
    }
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      return invalid('content-type must be application/json');
    }
    const body = request.json;
    if (!isObject(body)) return invalid('body must be a JSON object');
    const extra = unknownKeys(body, ['data']);
    if (extra.length > 0) return invalid(`${extra[0]} is not allowed (additionalProperties: false)`);
    const data = body.data;
    if (!Array.isArray(data) || data.length === 0) return invalid('data must have at least 1 event');
    if (data.length > 1000) return invalid(`data has ${data.length} events; the maximum is 1000`);
    for (const [i, event] of data.entries()) {
      const problem = eventProblem(event, i);
      if (problem) return invalid(problem);
    }
    const scripted = script.take(request);
    if (scripted) return scripted;
    const statuses = (data as Json[]).map((event) => {
      const why = failing[event.event_id as string];
      return why ? { status: 'failed', error_message: why, warning_message: null } : { status: 'processed' };
    });
    const processed = (data as Json[]).filter((_, i) => statuses[i]!.status === 'processed');
    (test === 'true' ? tested : accepted).push(...processed);
    const answer = {
      num_events_received: data.length,
      num_events_processed: processed.length,
      events: statuses,
    };
    return { status: 200, body: answer };
  };
  return {
    handler,
    violations,
    accepted,
    tested,
    answerNext: script.push,
    failEvents: (byEventId) => Object.assign(failing, byEventId),
  };
}
