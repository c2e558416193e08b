/**
 * long-file: four platform stand-ins sharing one request checker; split per platform with the template helper
 *
 * Local stand-ins for the ad platforms, for tests only (not exported from the package). Each checks
 * requests the way the platform documents them (../../../shared/CONTRACTS.md): endpoint, auth,
 * required fields, hash format, batch size. A request that breaks the contract is answered with the
 * platform's own error AND listed in `violations`, which a test expects to stay empty. Tests script
 * other answers (errors, partial failures) with `answerNext`.
 */
import type { RecordedTestRequest, TestResponse } from '@openpipes/core/testing';
import {
  ga4ConsentProblem,
  googleAdsConsentProblem,
  metaDataProcessingProblem,
  tiktokLimitedDataUseProblem,
} from './consent-checks.js';
import { googleStatusError, googleTokenEndpoint } from './google-stand-in.js';
import { isHashed, isObject, type Json, looksHashed, type StandIn, scriptQueue } from './stand-in-kit.js';

// ---------------------------------------------------------------------------------------------
// Meta

/** Meta's error body. */
export function metaError(
  code: number,
  message: string,
  options: { status?: number; subcode?: number; userMessage?: string } = {},
): TestResponse {
  return {
    status: options.status ?? (code === 1 || code === 2 ? 500 : 400),
    body: {
      error: {
        message,
        type: code === 190 ? 'OAuthException' : 'GraphMethodException',
        code,
        ...(options.subcode ? { error_subcode: options.subcode } : {}),
        ...(options.userMessage ? { error_user_title: 'Error', error_user_msg: options.userMessage } : {}),
        fbtrace_id: 'AxTrace123',
      },
    },
  };
}

export interface MetaPlatform extends StandIn {
  /** Every event Meta accepted. */
  accepted: Json[];
  /** test_event_code of each accepted request (undefined when absent). */
  testCodes: Array<string | undefined>;
}

const metaHashedKeys = ['em', 'ph', 'fn', 'ln', 'ct', 'st', 'zp', 'country', 'ge', 'db', 'external_id'];

export function metaPlatform(options: { pixelId: string; token: string; version?: string }): MetaPlatform {
  const violations: string[] = [];
  const accepted: Json[] = [];
  const testCodes: Array<string | undefined> = [];
  const script = scriptQueue();
  const version = options.version ?? 'v26.0';

  const invalid = (why: string, response = metaError(100, `(#100) ${why}`)) => {
    violations.push(why);
    return response;
  };

  const handler = (request: RecordedTestRequest): TestResponse => {
    if (request.url.includes('access_token')) return invalid('access_token must not be in the URL');
    if (request.method !== 'POST' || request.url !== `/${version}/${options.pixelId}/events`) {
      return invalid(`unexpected ${request.method} ${request.url}`, { status: 404, body: 'not found' });
    }
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      return invalid('content-type must be application/json');
    }
    const body = request.json;
    if (!isObject(body)) return invalid('body must be a JSON object');
    if (body.access_token !== options.token) {
      return metaError(190, 'Invalid OAuth access token - Cannot parse access token');
    }
    const data = body.data;
    if (!Array.isArray(data) || data.length === 0) return invalid('data must be a non-empty array');
    if (data.length > 1000) return invalid(`data has ${data.length} events; the maximum is 1000`);
    const now = Math.floor(Date.now() / 1000);
    for (const [i, event] of data.entries()) {
      if (!isObject(event)) return invalid(`data[${i}] must be an object`);
      if (typeof event.event_name !== 'string' || !event.event_name) {
        return invalid(`data[${i}].event_name is required`);
      }
      if (!Number.isInteger(event.event_time)) return invalid(`data[${i}].event_time must be Unix seconds`);
      if ((event.event_time as number) < now - 7 * 86400) {
        return invalid(
          `data[${i}] event_time is more than 7 days old`,
          metaError(100, 'Invalid parameter', { subcode: 2804003, userMessage: 'Event Timestamp Too Old' }),
        );
      }
      if (typeof event.action_source !== 'string') return invalid(`data[${i}].action_source is required`);
      const userData = event.user_data;
      if (!isObject(userData) || Object.keys(userData).length === 0) {
        return invalid(`data[${i}].user_data is required`);
      }
      if (event.action_source === 'website' && typeof userData.client_user_agent !== 'string') {
        return invalid(`data[${i}].user_data.client_user_agent is required for website events`);
      }
      for (const key of metaHashedKeys) {
        if (key in userData && !isHashed(userData[key])) {
          return invalid(`data[${i}].user_data.${key} must be SHA-256 (64 lowercase hex)`);
        }
      }
      for (const key of ['client_ip_address', 'client_user_agent', 'fbc', 'fbp']) {
        if (looksHashed(userData[key])) {
          return invalid(`data[${i}].user_data.${key} must not be hashed`);
        }
      }
      const processing = metaDataProcessingProblem(event);
      if (processing) return invalid(`data[${i}].${processing}`);
    }
    const scripted = script.take(request);
    if (scripted) return scripted;
    accepted.push(...(data as Json[]));
    testCodes.push(typeof body.test_event_code === 'string' ? body.test_event_code : undefined);
    return { status: 200, body: { events_received: data.length, messages: [], fbtrace_id: 'AbC123xyz' } };
  };
  return { handler, violations, accepted, testCodes, answerNext: (...a) => script.push(...a) };
}

// ---------------------------------------------------------------------------------------------
// TikTok

export interface TikTokPlatform extends StandIn {
  accepted: Json[];
  testCodes: Array<string | undefined>;
}

/** TikTok answers errors with HTTP 200 and a non-zero code. */
export function tiktokAnswer(code: number, message: string, status = 200): TestResponse {
  return { status, body: { code, message, request_id: '20261126abcdef', data: {} } };
}

export function tiktokPlatform(options: { pixelCode: string; token: string }): TikTokPlatform {
  const violations: string[] = [];
  const accepted: Json[] = [];
  const testCodes: Array<string | undefined> = [];
  const script = scriptQueue();
  const invalid = (why: string, response = tiktokAnswer(40002, why)) => {
    violations.push(why);
    return response;
  };

  const handler = (request: RecordedTestRequest): TestResponse => {
    if (request.method !== 'POST' || request.url !== '/open_api/v1.3/event/track/') {
      return invalid(`unexpected ${request.method} ${request.url}`, { status: 404, body: 'not found' });
    }
    if (request.headers['access-token'] !== options.token) {
      return tiktokAnswer(40105, 'The access token is invalid or has been revoked.');
    }
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      return invalid('Content-Type must be application/json');
    }
    const body = request.json;
    if (!isObject(body)) return invalid('body must be a JSON object');
    if (!['web', 'app', 'offline', 'crm'].includes(body.event_source as string)) {
      return invalid('event_source must be web, app, offline or crm');
    }
    if (body.event_source_id !== options.pixelCode) return invalid('event_source_id must be the pixel code');
    const data = body.data;
    if (!Array.isArray(data) || data.length === 0) return invalid('data must be a non-empty array');
    if (data.length > 1000) {
      return invalid(
        `data has ${data.length} events; the maximum is 1000`,
        tiktokAnswer(40061, 'batch size'),
      );
    }
    for (const [i, event] of data.entries()) {
      if (!isObject(event)) return invalid(`data[${i}] must be an object`);
      if (typeof event.event !== 'string' || !event.event) return invalid(`data[${i}].event is required`);
      if (!Number.isInteger(event.event_time)) return invalid(`data[${i}].event_time must be Unix seconds`);
      const user = event.user;
      if (user !== undefined) {
        if (!isObject(user)) return invalid(`data[${i}].user must be an object`);
        if ('phone_number' in user) return invalid(`data[${i}].user.phone_number is v1.2; v1.3 says phone`);
        for (const key of ['email', 'phone', 'external_id']) {
          if (key in user && !isHashed(user[key])) {
            return invalid(
              `data[${i}].user.${key} must be SHA-256 (64 lowercase hex)`,
              tiktokAnswer(40062, 'PII not hashed'),
            );
          }
        }
        for (const key of ['ip', 'user_agent', 'ttp', 'ttclid']) {
          if (looksHashed(user[key])) {
            return invalid(`data[${i}].user.${key} must not be hashed`);
          }
        }
      }
      const limited = tiktokLimitedDataUseProblem(event);
      if (limited) return invalid(`data[${i}].${limited}`);
    }
    const scripted = script.take(request);
    if (scripted) return scripted;
    accepted.push(...(data as Json[]));
    testCodes.push(typeof body.test_event_code === 'string' ? body.test_event_code : undefined);
    return tiktokAnswer(0, 'OK');
  };
  return { handler, violations, accepted, testCodes, answerNext: (...a) => script.push(...a) };
}

// ---------------------------------------------------------------------------------------------
// Google Ads (OAuth token endpoint and uploadClickConversions on one server)

export interface GoogleCredentials {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  developerToken: string;
}

export interface GoogleAdsPlatform extends StandIn {
  /** Access tokens issued, in order. */
  issued: string[];
  /** Upload requests, in order, with the token each carried and whether it was answered 401. */
  uploads: Array<{ token: string; rows: number; validateOnly: boolean; unauthenticated: boolean }>;
  /** Conversions accepted (not failed), in order. */
  accepted: Json[];
  /** Makes every issued token invalid (the next upload gets 401). */
  revokeTokens(): void;
  /** Fails these rows of the next uploads, as Google would, with this error. */
  failRows: (index: number, conversion: Json) => { name: string; message: string } | null;
  /** Seconds each issued token lives. */
  expiresIn: number;
  /** When false, every upload is answered 401 whatever token it carries. */
  acceptTokens: boolean;
}

/** Google's request-level error body. */
export function googleAdsError(
  status: number,
  grpcStatus: string,
  message: string,
  errorCode?: Json,
): TestResponse {
  const failure = {
    '@type': 'type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure',
    errors: [{ errorCode, message }],
    requestId: 'req-123',
  };
  return googleStatusError(status, grpcStatus, message, errorCode ? [failure] : []);
}

// long-function: a stand-in of one Google Ads customer: its endpoints share the customer's recorded state (tokens, requests, violations)
export function googleAdsPlatform(options: {
  customerId: string;
  loginCustomerId?: string;
  credentials: GoogleCredentials;
  version?: string;
}): GoogleAdsPlatform {
  const violations: string[] = [];
  const script = scriptQueue();
  const issued: string[] = [];
  const valid = new Set<string>();
  const uploads: GoogleAdsPlatform['uploads'] = [];
  const accepted: Json[] = [];
  const version = options.version ?? 'v26';
  const { credentials } = options;

  const invalid = (why: string, response?: TestResponse) => {
    violations.push(why);
    return response ?? googleAdsError(400, 'INVALID_ARGUMENT', why, { requestError: 'INVALID_INPUT' });
  };

  const token = googleTokenEndpoint({
    credentials,
    violations,
    issued,
    valid,
    prefix: 'ya29.test-access-token-',
    expiresIn: () => platform.expiresIn,
  });

  const upload = (request: RecordedTestRequest): TestResponse => {
    const bearer = /^Bearer (.+)$/.exec(String(request.headers.authorization ?? ''))?.[1] ?? '';
    const body = request.json;
    const rows = isObject(body) && Array.isArray(body.conversions) ? body.conversions.length : 0;
    const validateOnly = isObject(body) && body.validateOnly === true;
    if (!platform.acceptTokens || !valid.has(bearer)) {
      uploads.push({ token: bearer, rows, validateOnly, unauthenticated: true });
      return googleAdsError(
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      );
    }
    uploads.push({ token: bearer, rows, validateOnly, unauthenticated: false });
    if (request.headers['developer-token'] !== credentials.developerToken) {
      return invalid('developer-token header is missing or wrong');
    }
    if (options.loginCustomerId && request.headers['login-customer-id'] !== options.loginCustomerId) {
      return invalid('login-customer-id header is missing or wrong');
    }
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      return invalid('content-type must be application/json');
    }
    if (!isObject(body)) return invalid('body must be a JSON object');
    if (body.partialFailure !== true) return invalid('partialFailure must be true');
    const conversions = body.conversions;
    if (!Array.isArray(conversions) || conversions.length === 0)
      return invalid('conversions must be a non-empty array');
    if (conversions.length > 2000) {
      return invalid(
        `conversions has ${conversions.length} rows; the maximum is 2000`,
        googleAdsError(400, 'INVALID_ARGUMENT', 'Too many conversions in request', {
          conversionUploadError: 'TOO_MANY_CONVERSIONS_IN_REQUEST',
        }),
      );
    }
    const scripted = script.take(request);
    if (scripted) return scripted;

    const results: Json[] = [];
    const errors: Json[] = [];
    const rowError = (index: number, name: string, message: string, field?: string) => {
      errors.push({
        errorCode: { conversionUploadError: name },
        message,
        trigger: {},
        location: {
          fieldPathElements: [{ fieldName: 'conversions', index }, ...(field ? [{ fieldName: field }] : [])],
        },
      });
      results.push({});
    };
    conversions.forEach((row: unknown, index: number) => {
      const problem = conversionProblem(row, options.customerId);
      if (problem) {
        violations.push(`conversions[${index}]: ${problem}`);
        rowError(index, 'INVALID_CONVERSION', problem);
        return;
      }
      const c = row as Json;
      const failure = platform.failRows(index, c);
      if (failure) {
        rowError(index, failure.name, failure.message, 'gclid');
        return;
      }
      accepted.push(c);
      results.push({
        gclid: c.gclid,
        conversionAction: c.conversionAction,
        conversionDateTime: c.conversionDateTime,
      });
    });
    return {
      status: 200,
      body: {
        results,
        ...(errors.length > 0
          ? {
              partialFailureError: {
                code: 3,
                message: errors.map((e) => e.message).join(', '),
                details: [
                  {
                    '@type': `type.googleapis.com/google.ads.googleads.${version}.errors.GoogleAdsFailure`,
                    errors,
                    requestId: 'req-456',
                  },
                ],
              },
            }
          : {}),
        jobId: '8675309',
      },
    };
  };

  const handler = (request: RecordedTestRequest): TestResponse => {
    if (request.method === 'POST' && request.url === '/token') return token(request);
    if (
      request.method === 'POST' &&
      request.url === `/${version}/customers/${options.customerId}:uploadClickConversions`
    ) {
      return upload(request);
    }
    return invalid(`unexpected ${request.method} ${request.url}`, { status: 404, body: 'not found' });
  };

  const platform: GoogleAdsPlatform = {
    handler,
    violations,
    issued,
    uploads,
    accepted,
    expiresIn: 3599,
    acceptTokens: true,
    failRows: () => null,
    revokeTokens: () => valid.clear(),
    answerNext: (...a) => script.push(...a),
  };
  return platform;
}

const googleDateTime = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;

/** What Google would reject in one ClickConversion, or null. */
function conversionProblem(row: unknown, customerId: string): string | null {
  if (!isObject(row)) return 'must be an object';
  for (const key of Object.keys(row))
    if (key.includes('_')) return `${key} is not a REST JSON (camelCase) name`;
  if (!row.gclid && !row.gbraid && !row.wbraid && !Array.isArray(row.userIdentifiers)) {
    return 'needs gclid, gbraid, wbraid or userIdentifiers';
  }
  const action = new RegExp(`^customers/${customerId}/conversionActions/\\d+$`);
  if (typeof row.conversionAction !== 'string' || !action.test(row.conversionAction)) {
    return 'conversionAction must be customers/{customerId}/conversionActions/{id}';
  }
  if (typeof row.conversionDateTime !== 'string' || !googleDateTime.test(row.conversionDateTime)) {
    return `conversionDateTime "${String(row.conversionDateTime)}" is not yyyy-mm-dd hh:mm:ss+hh:mm`;
  }
  const consent = googleAdsConsentProblem(row.consent);
  if (consent) return consent;
  if (row.userIdentifiers !== undefined) {
    const ids = row.userIdentifiers;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 5)
      return 'userIdentifiers must hold 1 to 5 entries';
    for (const id of ids) {
      if (!isObject(id) || Object.keys(id).length === 0) return 'an empty user identifier';
      for (const key of ['hashedEmail', 'hashedPhoneNumber']) {
        if (key in id && !isHashed(id[key])) return `${key} must be SHA-256 (64 lowercase hex)`;
      }
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// GA4

export interface Ga4Platform extends StandIn {
  /** Request bodies accepted, in order, with the endpoint they went to. */
  accepted: Array<{ debug: boolean; body: Json }>;
}

export function ga4Platform(options: { measurementId: string; apiSecret: string }): Ga4Platform {
  const violations: string[] = [];
  const accepted: Ga4Platform['accepted'] = [];
  const script = scriptQueue();

  const handler = (request: RecordedTestRequest): TestResponse => {
    const url = new URL(request.url, 'http://ga4.local');
    const debug = url.pathname === '/debug/mp/collect';
    const problems: string[] = [];
    if (request.method !== 'POST' || (url.pathname !== '/mp/collect' && !debug)) {
      violations.push(`unexpected ${request.method} ${request.url}`);
      return { status: 404, body: 'not found' };
    }
    if (url.searchParams.get('measurement_id') !== options.measurementId)
      problems.push('measurement_id is wrong');
    if (url.searchParams.get('api_secret') !== options.apiSecret) problems.push('api_secret is wrong');
    const body = request.json;
    if (!isObject(body)) problems.push('body must be a JSON object');
    else {
      if (typeof body.client_id !== 'string' || !body.client_id) problems.push('client_id is required');
      const consent = ga4ConsentProblem(body.consent);
      if (consent) problems.push(consent);
      const events = body.events;
      if (!Array.isArray(events) || events.length === 0 || events.length > 25) {
        problems.push('events must hold 1 to 25 events');
      } else {
        for (const event of events) {
          if (
            !isObject(event) ||
            typeof event.name !== 'string' ||
            !/^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(event.name)
          ) {
            problems.push('event name must be letters, digits and underscores, starting with a letter');
          }
        }
      }
    }
    violations.push(...problems);
    const scripted = script.take(request);
    if (scripted) return scripted;
    if (problems.length > 0) {
      // Production answers 2xx whatever it thinks; only the debug endpoint says why.
      return debug
        ? {
            status: 200,
            body: {
              validationMessages: problems.map((description) => ({
                fieldPath: '',
                description,
                validationCode: 'VALUE_INVALID',
              })),
            },
          }
        : { status: 204 };
    }
    accepted.push({ debug, body: body as Json });
    return debug ? { status: 200, body: { validationMessages: [] } } : { status: 204 };
  };
  return { handler, violations, accepted, answerNext: (...a) => script.push(...a) };
}
