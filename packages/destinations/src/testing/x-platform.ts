/**
 * A local stand-in for the X Conversions API (tests only), checking requests the way X documents
 * them (docs/destinations.md, X): the path with its API version, an OAuth 1.0a header whose
 * signature the `oauth-1.0a` library (the oracle) computes the same from the four credentials,
 * at most 500 conversions, ISO 8601 times, identifier objects with hashed email and E.164 phone.
 * A request that breaks the contract gets X's 400 `{errors: [...]}` and is listed in `violations`.
 */
import { createHmac } from 'node:crypto';
import type { RecordedTestRequest, TestResponse } from '@openpipes/core/testing';
import OAuth from 'oauth-1.0a';
import {
  isHashed,
  isObject,
  type Json,
  pathOf,
  type StandIn,
  scriptQueue,
  unknownKeys,
} from './stand-in-kit.js';

/** X's error body. */
export function xError(code: string, message: string, status = 400, parameter?: string): TestResponse {
  return { status, body: { errors: [{ code, message, ...(parameter ? { parameter } : {}) }], request: {} } };
}

export interface XCredentials {
  consumerKey: string;
  consumerSecret: string;
  token: string;
  tokenSecret: string;
}

/**
 * The four secrets an X destination binds (OAuth 1.0a), holding `credentials`: what a test binds
 * for the stand-in that checks those credentials.
 */
export function xSecrets(credentials: XCredentials) {
  return {
    X_CONSUMER_KEY: credentials.consumerKey,
    X_CONSUMER_SECRET: credentials.consumerSecret,
    X_ACCESS_TOKEN: credentials.token,
    X_ACCESS_TOKEN_SECRET: credentials.tokenSecret,
  };
}

export interface XPlatform extends StandIn {
  /** Every conversion X recorded. */
  accepted: Json[];
  /** Nonces seen (X refuses a replayed one). */
  nonces: string[];
}

/** The oauth_* parameters of an `Authorization: OAuth k="v", ...` header, decoded. */
export function parseOAuthHeader(header: string | undefined): Record<string, string> | null {
  if (!header?.startsWith('OAuth ')) return null;
  const out: Record<string, string> = {};
  for (const part of header.slice(6).split(/,\s*/)) {
    const m = /^([^=]+)="([^"]*)"$/.exec(part.trim());
    if (!m) return null;
    out[decodeURIComponent(m[1]!)] = decodeURIComponent(m[2]!);
  }
  return out;
}

/** The signature the oauth-1.0a library computes for this request, nonce and timestamp. */
export function oracleSignature(
  credentials: XCredentials,
  request: { method: string; url: string },
  nonce: string,
  timestamp: number,
): string {
  const oauth = new OAuth({
    consumer: { key: credentials.consumerKey, secret: credentials.consumerSecret },
    signature_method: 'HMAC-SHA1',
    hash_function: (base, key) => createHmac('sha1', key).update(base).digest('base64'),
  });
  oauth.getNonce = () => nonce;
  oauth.getTimeStamp = () => timestamp;
  const data = oauth.authorize(request, { key: credentials.token, secret: credentials.tokenSecret });
  return data.oauth_signature;
}

const conversionKeys = [
  'conversion_time',
  'event_id',
  'identifiers',
  'value',
  'price_currency',
  'number_items',
  'conversion_id',
  'description',
  'contents',
];
const identifierKeys = ['twclid', 'hashed_email', 'hashed_phone_number', 'ip_address', 'user_agent'];
const contentKeys = [
  'content_id',
  'content_group_id',
  'content_name',
  'content_price',
  'content_type',
  'num_items',
];
const isoMillis = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/;

function conversionProblem(c: unknown, i: number): string | null {
  if (!isObject(c)) return `conversions[${i}] must be an object`;
  const extra = unknownKeys(c, conversionKeys);
  if (extra.length > 0) return `conversions[${i}].${extra[0]} is not a conversion field`;
  if (typeof c.conversion_time !== 'string' || !isoMillis.test(c.conversion_time)) {
    return `conversions[${i}].conversion_time must be ISO 8601`;
  }
  if (typeof c.event_id !== 'string' || c.event_id === '') return `conversions[${i}].event_id is required`;
  if (!Array.isArray(c.identifiers) || c.identifiers.length === 0) {
    return `conversions[${i}].identifiers is required`;
  }
  let matching = false;
  for (const [n, id] of c.identifiers.entries()) {
    if (!isObject(id)) return `conversions[${i}].identifiers[${n}] must be an object`;
    const extraId = unknownKeys(id, identifierKeys);
    if (extraId.length > 0) return `conversions[${i}].identifiers[${n}].${extraId[0]} is not an identifier`;
    for (const key of ['hashed_email', 'hashed_phone_number']) {
      if (key in id && (typeof id[key] !== 'string' || !isHashed(id[key]))) {
        return `conversions[${i}].identifiers[${n}].${key} must be SHA-256 (64 lowercase hex)`;
      }
    }
    if (id.twclid || id.hashed_email || id.hashed_phone_number) matching = true;
  }
  if (!matching) return `conversions[${i}].identifiers need twclid, hashed_email or hashed_phone_number`;
  if (c.value !== undefined && typeof c.value !== 'number') return `conversions[${i}].value must be a number`;
  if (c.contents !== undefined) {
    if (!Array.isArray(c.contents)) return `conversions[${i}].contents must be an array`;
    for (const [n, item] of c.contents.entries()) {
      if (!isObject(item) || unknownKeys(item, contentKeys).length > 0) {
        return `conversions[${i}].contents[${n}] has a field X does not know`;
      }
    }
  }
  return null;
}

export function xPlatform(options: {
  pixelId: string;
  apiVersion?: string;
  credentials: XCredentials;
  /** The scheme and host the sender signs when the request has no Host header (golden runs). */
  defaultOrigin?: string;
}): XPlatform {
  const violations: string[] = [];
  const accepted: Json[] = [];
  const nonces: string[] = [];
  const script = scriptQueue();
  const invalid = (parameter: string, why: string) => {
    violations.push(why);
    return xError('INVALID_PARAMETER', why, 400, parameter);
  };

  const handler = (request: RecordedTestRequest): TestResponse => {
    const path = pathOf(request);
    const expected = `/${options.apiVersion ?? '12'}/measurement/conversions/${options.pixelId}`;
    if (request.method !== 'POST' || path !== expected) {
      violations.push(`unexpected ${request.method} ${path}`);
      return xError('NOT_FOUND', 'not found', 404);
    }
    const oauth = parseOAuthHeader(request.headers.authorization);
    const origin = request.headers.host
      ? `http://${request.headers.host}`
      : (options.defaultOrigin ?? 'https://ads-api.x.com');
    if (
      !oauth ||
      oauth.oauth_consumer_key !== options.credentials.consumerKey ||
      oauth.oauth_token !== options.credentials.token ||
      oauth.oauth_signature_method !== 'HMAC-SHA1' ||
      oauth.oauth_version !== '1.0' ||
      !oauth.oauth_nonce ||
      !/^\d+$/.test(oauth.oauth_timestamp ?? '')
    ) {
      violations.push('missing or malformed OAuth 1.0a header');
      return xError('UNAUTHORIZED_ACCESS', 'This request is not properly authenticated', 401);
    }
    const expectedSignature = oracleSignature(
      options.credentials,
      { method: request.method, url: origin + request.url },
      oauth.oauth_nonce,
      Number(oauth.oauth_timestamp),
    );
    if (oauth.oauth_signature !== expectedSignature) {
      violations.push(`OAuth signature ${oauth.oauth_signature} is not the oracle's ${expectedSignature}`);
      return xError('UNAUTHORIZED_ACCESS', 'This request is not properly authenticated', 401);
    }
    if (nonces.includes(oauth.oauth_nonce)) {
      violations.push('replayed oauth_nonce');
      return xError('UNAUTHORIZED_ACCESS', 'This request is not properly authenticated', 401);
    }
    nonces.push(oauth.oauth_nonce);
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      return invalid('content-type', 'content-type must be application/json');
    }
    const body = request.json;
    if (!isObject(body)) return invalid('body', 'body must be a JSON object');
    const extra = unknownKeys(body, ['conversions']);
    if (extra.length > 0) return invalid(extra[0]!, `${extra[0]} is not a request field`);
    const conversions = body.conversions;
    if (!Array.isArray(conversions) || conversions.length === 0) {
      return invalid('conversions', 'conversions must be a non-empty array');
    }
    if (conversions.length > 500) {
      return invalid('conversions', `conversions has ${conversions.length} items; the maximum is 500`);
    }
    for (const [i, c] of conversions.entries()) {
      const problem = conversionProblem(c, i);
      if (problem) return invalid(`conversions[${i}]`, problem);
    }
    const scripted = script.take(request);
    if (scripted) return scripted;
    accepted.push(...(conversions as Json[]));
    return {
      status: 200,
      body: { request: { params: {} }, data: { conversions_processed: conversions.length, debug_id: 'dbg' } },
    };
  };
  return { handler, violations, accepted, nonces, answerNext: script.push };
}
