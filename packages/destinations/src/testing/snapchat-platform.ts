/**
 * A local stand-in for the Snapchat Conversions API v3 (tests only), checking requests the way
 * Snap documents them (docs/destinations.md, Snapchat): the endpoint and its validate twin, the
 * token in `access_token`, at most 2000 events, the event names, hashed user_data, Unix seconds
 * no older than 37 days, and a PURCHASE with value and currency. A request that breaks the
 * contract gets Snap's 400 `{status: "INVALID", reason}` and is listed in `violations`.
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

/** Snap's error body. */
export function snapchatError(reason: string, status = 400): TestResponse {
  return { status, body: { status: 'INVALID', reason } };
}

export interface SnapchatPlatform extends StandIn {
  /** Every event Snap recorded (not those sent to the validate endpoint). */
  accepted: Json[];
  /** Every event sent to the validate endpoint. */
  validated: Json[];
}

const eventNames = [
  'PAGE_VIEW',
  'VIEW_CONTENT',
  'ADD_CART',
  'ADD_TO_WISHLIST',
  'SIGN_UP',
  'SEARCH',
  'PURCHASE',
  'ADD_BILLING',
  'SUBSCRIBE',
  'START_CHECKOUT',
  'START_TRIAL',
  'LOGIN',
  'SAVE',
  'SHARE',
  'CUSTOM_EVENT_1',
  'CUSTOM_EVENT_2',
  'CUSTOM_EVENT_3',
  'CUSTOM_EVENT_4',
  'CUSTOM_EVENT_5',
];
const eventKeys = [
  'event_name',
  'event_time',
  'event_id',
  'action_source',
  'event_source_url',
  'user_data',
  'custom_data',
  'app_data',
  'data_processing_options',
  'integration',
];
const hashedKeys = ['em', 'ph', 'fn', 'ln', 'ct', 'st', 'zp', 'country', 'ge', 'db', 'external_id'];
const plainKeys = ['client_ip_address', 'client_user_agent', 'sc_click_id', 'sc_cookie1', 'madid'];

/** Why Snap would refuse event `i`, or null. */
function eventProblem(event: unknown, i: number, now: number): string | null {
  if (!isObject(event)) return `data[${i}] must be an object`;
  const extra = unknownKeys(event, eventKeys);
  if (extra.length > 0) return `data[${i}].${extra[0]} is not a v3 event field`;
  if (!eventNames.includes(event.event_name as string))
    return `data[${i}].event_name is not a Snap event name`;
  if (!Number.isInteger(event.event_time)) return `data[${i}].event_time must be Unix seconds`;
  if ((event.event_time as number) < now - 37 * 86400) return `data[${i}].event_time is older than 37 days`;
  if (!['WEB', 'MOBILE_APP', 'OFFLINE'].includes(event.action_source as string)) {
    return `data[${i}].action_source must be WEB, MOBILE_APP or OFFLINE`;
  }
  const u = event.user_data;
  if (!isObject(u)) return `data[${i}].user_data is required`;
  const extraUser = unknownKeys(u, [...hashedKeys, ...plainKeys]);
  if (extraUser.length > 0) return `data[${i}].user_data.${extraUser[0]} is not a user_data field`;
  for (const key of hashedKeys) {
    if (key in u && !isHashed(u[key]))
      return `data[${i}].user_data.${key} must be SHA-256 (64 lowercase hex)`;
  }
  for (const key of plainKeys) {
    if (looksHashed(u[key])) return `data[${i}].user_data.${key} must not be hashed`;
  }
  if (!u.em && !u.ph && !u.madid && !(u.client_ip_address && u.client_user_agent)) {
    return `data[${i}].user_data needs em, ph, madid, or client_ip_address with client_user_agent`;
  }
  const c = event.custom_data;
  if (c !== undefined && !isObject(c)) return `data[${i}].custom_data must be an object`;
  if (event.event_name === 'PURCHASE' && (!isObject(c) || typeof c.value !== 'number' || !c.currency)) {
    return `data[${i}].custom_data.value and custom_data.currency are required for PURCHASE`;
  }
  return null;
}

export function snapchatPlatform(options: { pixelId: string; token: string }): SnapchatPlatform {
  const violations: string[] = [];
  const accepted: Json[] = [];
  const validated: Json[] = [];
  const script = scriptQueue();
  const invalid = (why: string, response = snapchatError(why)) => {
    violations.push(why);
    return response;
  };

  const handler = (request: RecordedTestRequest): TestResponse => {
    const path = pathOf(request);
    const base = `/v3/${options.pixelId}/events`;
    if (request.method !== 'POST' || (path !== base && path !== `${base}/validate`)) {
      return invalid(`unexpected ${request.method} ${path}`, { status: 404, body: 'not found' });
    }
    if (queryOf(request).get('access_token') !== options.token) {
      return snapchatError('Invalid access token', 401);
    }
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      return invalid('content-type must be application/json');
    }
    const body = request.json;
    if (!isObject(body)) return invalid('body must be a JSON object');
    const extra = unknownKeys(body, ['data']);
    if (extra.length > 0) return invalid(`${extra[0]} is not a request field`);
    const data = body.data;
    if (!Array.isArray(data) || data.length === 0) return invalid('data must be a non-empty array');
    if (data.length > 2000) return invalid(`data has ${data.length} events; the maximum is 2000`);
    const now = Math.floor(Date.now() / 1000);
    for (const [i, event] of data.entries()) {
      const problem = eventProblem(event, i, now);
      if (problem) return invalid(problem);
    }
    const scripted = script.take(request);
    if (scripted) return scripted;
    (path === base ? accepted : validated).push(...(data as Json[]));
    return { status: 200, body: { status: 'SUCCESS', reason: 'SUCCESS' } };
  };
  return { handler, violations, accepted, validated, answerNext: script.push };
}
