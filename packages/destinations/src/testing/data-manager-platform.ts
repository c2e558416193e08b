/**
 * A stand-in for Google's Data Manager API (tests only): the OAuth token endpoint and
 * `POST /v1/events:ingest` on one server. It checks requests as Google documents them
 * (../../../shared/CONTRACTS.md, docs/destinations.md): bearer token, destinations, at most 2000
 * events, RFC 3339 timestamps, HEX SHA-256 user identifiers (at most 10), consent values, no unknown
 * fields. Google takes a request whole or not at all, so any problem refuses the whole request with
 * a google.rpc.Status whose BadRequest field violations name the event (`events[3].…`).
 */
import type { RecordedTestRequest, TestResponse } from '@openpipes/core/testing';
import { googleStatusError, googleTokenEndpoint } from './google-stand-in.js';
import {
  isHashed,
  isObject,
  type Json,
  pathOf,
  type StandIn,
  scriptQueue,
  unknownKeys,
} from './stand-in-kit.js';

export interface DataManagerCredentials {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

/** A problem Google would name for one event: ErrorInfo reason and the violated field's text. */
export interface EventRejection {
  reason: string;
  field: string;
  description: string;
}

export interface DataManagerPlatform extends StandIn {
  /** Access tokens issued, in order. */
  issued: string[];
  /** Ingest requests, in order: events, validateOnly, and whether the token was refused. */
  requests: Array<{ events: number; validateOnly: boolean; unauthenticated: boolean; body: Json }>;
  /** Events ingested (validated requests included), in order. */
  accepted: Json[];
  /** Refuses the request for these events, as Google would with an invalid record. */
  rejectEvent: (index: number, event: Json) => EventRejection | null;
  /** Makes every issued token invalid (the next request gets 401). */
  revokeTokens(): void;
}

/** A google.rpc.Status error answer with ErrorInfo (reason) and BadRequest (field violations). */
export function dataManagerError(
  status: number,
  grpcStatus: string,
  message: string,
  reason?: string,
  violations: Array<{ field: string; description: string; reason?: string }> = [],
): TestResponse {
  const details: Json[] = [];
  if (reason) {
    details.push({
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason,
      domain: 'datamanager.googleapis.com',
      metadata: { requestId: 'req-dm-1' },
    });
  }
  if (violations.length > 0) {
    details.push({ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: violations });
  }
  return googleStatusError(status, grpcStatus, message, details);
}

const requestKeys = ['destinations', 'events', 'consent', 'validateOnly', 'encoding', 'encryptionInfo'];
const eventKeys = [
  'destinationReferences',
  'transactionId',
  'eventTimestamp',
  'lastUpdatedTimestamp',
  'userData',
  'consent',
  'adIdentifiers',
  'currency',
  'conversionValue',
  'eventSource',
  'eventDeviceInfo',
  'cartData',
  'customVariables',
  'experimentalFields',
  'userProperties',
];
const adIdentifierKeys = ['sessionAttributes', 'gclid', 'gbraid', 'wbraid', 'landingPageDeviceInfo'];
const addressKeys = ['givenName', 'familyName', 'regionCode', 'postalCode'];
const consentValues = ['CONSENT_GRANTED', 'CONSENT_DENIED'];
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function consentProblem(consent: unknown, at: string): string | null {
  if (consent === undefined) return null;
  if (!isObject(consent)) return `${at}: must be an object`;
  for (const [key, value] of Object.entries(consent)) {
    if (key !== 'adUserData' && key !== 'adPersonalization') return `${at}.${key}: unknown field`;
    if (!consentValues.includes(value as string))
      return `${at}.${key}: must be CONSENT_GRANTED or CONSENT_DENIED`;
  }
  return null;
}

/** What Google would refuse in one event, as [field, description, reason], or null. */
function eventProblem(event: unknown, at: string): [string, string, string] | null {
  if (!isObject(event)) return [at, 'must be an object', 'INVALID_ARGUMENT'];
  const unknown = unknownKeys(event, eventKeys);
  if (unknown.length > 0) return [`${at}.${unknown[0]}`, 'Cannot find field.', 'INVALID_ARGUMENT'];
  if (typeof event.eventTimestamp !== 'string' || !rfc3339.test(event.eventTimestamp)) {
    return [`${at}.eventTimestamp`, 'required, an RFC 3339 timestamp', 'REQUIRED_FIELD_MISSING'];
  }
  if (event.conversionValue !== undefined && typeof event.conversionValue !== 'number') {
    return [`${at}.conversionValue`, 'must be a number', 'INVALID_NUMBER_FORMAT'];
  }
  if (event.currency !== undefined && !/^[A-Z]{3}$/.test(String(event.currency))) {
    return [`${at}.currency`, 'an ISO 4217 code', 'INVALID_CURRENCY_CODE'];
  }
  if (
    event.eventSource !== undefined &&
    !['WEB', 'APP', 'IN_STORE', 'PHONE', 'OTHER'].includes(event.eventSource as string)
  ) {
    return [`${at}.eventSource`, 'not an EventSource', 'INVALID_ENUM_VALUE'];
  }
  const consent = consentProblem(event.consent, `${at}.consent`);
  if (consent) return [consent.split(':')[0]!, consent, 'INVALID_ENUM_VALUE'];
  const ad = event.adIdentifiers;
  if (ad !== undefined) {
    if (!isObject(ad)) return [`${at}.adIdentifiers`, 'must be an object', 'INVALID_ARGUMENT'];
    const extra = unknownKeys(ad, adIdentifierKeys);
    if (extra.length > 0)
      return [`${at}.adIdentifiers.${extra[0]}`, 'Cannot find field.', 'INVALID_ARGUMENT'];
    for (const key of ['gclid', 'gbraid', 'wbraid']) {
      if (key in ad && (typeof ad[key] !== 'string' || ad[key] === '')) {
        return [`${at}.adIdentifiers.${key}`, 'must be a non-empty string', 'INVALID_FORMAT'];
      }
    }
  }
  const userData = event.userData;
  if (userData !== undefined) {
    const ids = isObject(userData) ? userData.userIdentifiers : undefined;
    if (!Array.isArray(ids) || ids.length === 0) {
      return [`${at}.userData.userIdentifiers`, 'at least one user identifier', 'REQUIRED_FIELD_MISSING'];
    }
    if (ids.length > 10) {
      return [`${at}.userData.userIdentifiers`, 'at most 10 user identifiers', 'TOO_MANY_USER_IDENTIFIERS'];
    }
    for (const [i, id] of ids.entries()) {
      const where = `${at}.userData.userIdentifiers[${i}]`;
      if (!isObject(id) || Object.keys(id).length !== 1) {
        return [where, 'exactly one of emailAddress, phoneNumber, address', 'INVALID_ARGUMENT'];
      }
      if ('emailAddress' in id && !isHashed(id.emailAddress)) {
        return [`${where}.emailAddress`, 'a HEX SHA-256 digest', 'INVALID_SHA256_FORMAT'];
      }
      if ('phoneNumber' in id && !isHashed(id.phoneNumber)) {
        return [`${where}.phoneNumber`, 'a HEX SHA-256 digest', 'INVALID_SHA256_FORMAT'];
      }
      if ('address' in id) {
        const a = id.address;
        if (!isObject(a) || unknownKeys(a, addressKeys).length > 0) {
          return [`${where}.address`, 'givenName, familyName, regionCode, postalCode', 'INVALID_ARGUMENT'];
        }
        for (const key of ['givenName', 'familyName']) {
          if (!isHashed(a[key]))
            return [`${where}.address.${key}`, 'a HEX SHA-256 digest', 'INVALID_SHA256_FORMAT'];
        }
        if (typeof a.regionCode !== 'string' || !/^[A-Z]{2}$/.test(a.regionCode)) {
          return [`${where}.address.regionCode`, 'ISO 3166-1 alpha-2, not hashed', 'INVALID_COUNTRY_CODE'];
        }
        if (typeof a.postalCode !== 'string' || a.postalCode === '' || isHashed(a.postalCode)) {
          return [`${where}.address.postalCode`, 'the postal code, not hashed', 'INVALID_POSTAL_CODE'];
        }
      }
    }
  }
  const hasAd = isObject(ad) && (ad.gclid || ad.gbraid || ad.wbraid);
  if (!hasAd && userData === undefined) {
    return [at, 'no ad identifier and no user data', 'NO_IDENTIFIERS_PROVIDED'];
  }
  return null;
}

// long-function: a stand-in of one Data Manager account: its endpoints share the account's recorded state (tokens, requests, violations)
export function dataManagerPlatform(options: {
  operatingAccountId: string;
  loginAccountId?: string;
  credentials: DataManagerCredentials;
  version?: string;
}): DataManagerPlatform {
  const violations: string[] = [];
  const script = scriptQueue();
  const issued: string[] = [];
  const valid = new Set<string>();
  const requests: DataManagerPlatform['requests'] = [];
  const accepted: Json[] = [];
  const version = options.version ?? 'v1';
  const { credentials } = options;

  const invalid = (message: string, reason: string, field?: string, description?: string): TestResponse => {
    violations.push(field ? `${field}: ${description}` : message);
    return dataManagerError(
      400,
      'INVALID_ARGUMENT',
      message,
      reason,
      field ? [{ field, description: description ?? message, reason }] : [],
    );
  };

  const token = googleTokenEndpoint({
    credentials,
    violations,
    issued,
    valid,
    prefix: 'ya29.dm-access-token-',
    expiresIn: () => 3599,
  });

  // long-function: one request handler: the stand-in's checks of an ingest body in sequence, each with its own refusal
  const ingest = (request: RecordedTestRequest): TestResponse => {
    const bearer = /^Bearer (.+)$/.exec(String(request.headers.authorization ?? ''))?.[1] ?? '';
    const body = isObject(request.json) ? request.json : {};
    const events = Array.isArray(body.events) ? body.events : [];
    const validateOnly = body.validateOnly === true;
    if (!valid.has(bearer)) {
      requests.push({ events: events.length, validateOnly, unauthenticated: true, body });
      return dataManagerError(
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      );
    }
    requests.push({ events: events.length, validateOnly, unauthenticated: false, body });
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      return invalid('content-type must be application/json', 'INVALID_ARGUMENT');
    }
    if (!isObject(request.json)) return invalid('body must be a JSON object', 'INVALID_ARGUMENT');
    const extra = unknownKeys(body, requestKeys);
    if (extra.length > 0)
      return invalid('Invalid JSON payload', 'INVALID_ARGUMENT', extra[0], 'Cannot find field.');
    const destinations = body.destinations;
    if (!Array.isArray(destinations) || destinations.length === 0 || destinations.length > 10) {
      return invalid(
        'destinations: 1 to 10',
        'TOO_MANY_DESTINATIONS',
        'destinations',
        '1 to 10 destinations',
      );
    }
    for (const [i, d] of destinations.entries()) {
      const at = `destinations[${i}]`;
      const op = isObject(d) ? d.operatingAccount : undefined;
      if (!isObject(op) || op.accountType !== 'GOOGLE_ADS' || op.accountId !== options.operatingAccountId) {
        return invalid(
          'invalid destination',
          'INVALID_DESTINATION',
          `${at}.operatingAccount`,
          'the Google Ads account',
        );
      }
      const login = (d as Json).loginAccount;
      if (options.loginAccountId) {
        if (
          !isObject(login) ||
          login.accountId !== options.loginAccountId ||
          login.accountType !== 'GOOGLE_ADS'
        ) {
          return invalid(
            'invalid destination',
            'INVALID_DESTINATION',
            `${at}.loginAccount`,
            'the login account',
          );
        }
      } else if (login !== undefined) {
        return invalid(
          'invalid destination',
          'PERMISSION_DENIED',
          `${at}.loginAccount`,
          'no such login account',
        );
      }
      const action = (d as Json).productDestinationId;
      if (typeof action !== 'string' || !/^\d+$/.test(action)) {
        return invalid(
          'Conversion action ID is not valid.',
          'INVALID_CONVERSION_ACTION_ID',
          `${at}.productDestinationId`,
          'the numeric conversion action id',
        );
      }
    }
    if (events.length === 0)
      return invalid('events is empty', 'REQUIRED_FIELD_MISSING', 'events', 'at least one event');
    if (events.length > 2000) {
      return invalid(
        'Too many events',
        'INVALID_ARGUMENT',
        'events',
        `${events.length} events; at most 2000`,
      );
    }
    const usesUserData = events.some((e) => isObject(e) && e.userData !== undefined);
    if (usesUserData && body.encoding !== 'HEX' && body.encoding !== 'BASE64') {
      return invalid(
        'encoding is required for user data',
        'REQUIRED_FIELD_MISSING',
        'encoding',
        'HEX or BASE64',
      );
    }
    if (body.validateOnly !== undefined && typeof body.validateOnly !== 'boolean') {
      return invalid('validateOnly is a boolean', 'INVALID_ARGUMENT', 'validateOnly', 'a boolean');
    }
    const consent = consentProblem(body.consent, 'consent');
    if (consent) return invalid(consent, 'INVALID_ENUM_VALUE', 'consent', consent);
    for (const [i, event] of events.entries()) {
      const problem = eventProblem(event, `events[${i}]`);
      if (problem) return invalid(`${problem[0]}: ${problem[1]}`, problem[2], problem[0], problem[1]);
    }

    const scripted = script.take(request);
    if (scripted) return scripted;

    // Scripted rejections of single records: Google refuses the request and names each.
    const rejected = events
      .map((event, i) => ({ i, rejection: platform.rejectEvent(i, event as Json) }))
      .filter((r) => r.rejection !== null);
    if (rejected.length > 0) {
      return dataManagerError(
        400,
        'INVALID_ARGUMENT',
        'There was a problem with the request.',
        rejected[0]!.rejection!.reason,
        rejected.map((r) => ({
          field: `events[${r.i}].${r.rejection!.field}`,
          description: r.rejection!.description,
          reason: r.rejection!.reason,
        })),
      );
    }
    for (const event of events) accepted.push(event as Json);
    return { status: 200, body: { requestId: `dm-request-${requests.length}` } };
  };

  const handler = (request: RecordedTestRequest): TestResponse => {
    if (request.method === 'POST' && request.url === '/token') return token(request);
    if (request.method === 'POST' && pathOf(request) === `/${version}/events:ingest`) return ingest(request);
    violations.push(`unexpected ${request.method} ${request.url}`);
    return { status: 404, body: 'not found' };
  };

  const platform: DataManagerPlatform = {
    handler,
    violations,
    issued,
    requests,
    accepted,
    rejectEvent: () => null,
    revokeTokens: () => valid.clear(),
    answerNext: (...a) => script.push(...a),
  };
  return platform;
}
