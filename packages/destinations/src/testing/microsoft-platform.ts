/**
 * A local stand-in for the Microsoft Advertising UET Conversions API (tests only), checking requests
 * the way docs/destinations.md (Microsoft) describes them: the path and `Authorization: Bearer`,
 * `{data, continueOnValidationError?}` with at most 1000 events, `eventType` `pageLoad` / `custom`,
 * `eventId`, Unix seconds within 7 days, `adStorageConsent` `G` / `D`, SHA-256 `em` / `ph` and plain
 * `msclkid`, IP and user agent. An invalid event is reported in `error.details` with its `index` and
 * `propertyName`: with `continueOnValidationError` the valid ones are kept (HTTP 200), without it the
 * request is a 400. Every invalid event is listed in `violations`.
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

export interface MicrosoftDetail {
  index?: number;
  propertyName: string;
  errorMessage: string;
  errorCode: string;
  isWarning: boolean;
}

/** Microsoft's error body. */
export function microsoftError(
  status: number,
  code: string,
  message: string,
  details: MicrosoftDetail[] = [],
): TestResponse {
  return { status, body: { error: { code, message, details } } };
}

export interface MicrosoftPlatform extends StandIn {
  accepted: Json[];
}

const eventKeys = [
  'eventType',
  'eventId',
  'eventName',
  'eventTime',
  'eventSourceUrl',
  'adStorageConsent',
  'userData',
  'customData',
  'pageLoadId',
  'referrerUrl',
  'pageTitle',
  'keywords',
];
const userKeys = [
  'msclkid',
  'em',
  'ph',
  'anonymousId',
  'externalId',
  'clientIpAddress',
  'clientUserAgent',
  'idfa',
  'gaid',
];
const customKeys = [
  'value',
  'currency',
  'transactionId',
  'items',
  'eventCategory',
  'eventLabel',
  'eventValue',
  'pageType',
  'ecommProdId',
  'ecommTotalValue',
];

/** Why Microsoft refuses event fields, as [propertyName, message] or null. */
function eventProblem(event: unknown, now: number): [string, string] | null {
  if (!isObject(event)) return ['data', 'must be an object'];
  const extra = unknownKeys(event, eventKeys);
  if (extra.length > 0) return [extra[0]!, 'is not an event property'];
  if (event.eventType !== 'pageLoad' && event.eventType !== 'custom')
    return ['eventType', 'must be pageLoad or custom'];
  if (typeof event.eventId !== 'string' || !event.eventId) return ['eventId', 'is required'];
  if (!Number.isInteger(event.eventTime)) return ['eventTime', 'must be Unix seconds'];
  if ((event.eventTime as number) < now - 7 * 86400) return ['eventTime', 'is more than 7 days old'];
  if (
    event.adStorageConsent !== undefined &&
    event.adStorageConsent !== 'G' &&
    event.adStorageConsent !== 'D'
  ) {
    return ['adStorageConsent', 'must be G or D'];
  }
  const u = event.userData;
  if (!isObject(u)) return ['userData', 'is required'];
  const extraUser = unknownKeys(u, userKeys);
  if (extraUser.length > 0) return [`userData.${extraUser[0]}`, 'is not a userData property'];
  for (const key of ['em', 'ph']) {
    if (key in u && (typeof u[key] !== 'string' || !isHashed(u[key])))
      return [`userData.${key}`, 'must be a SHA-256 hex digest'];
  }
  for (const key of ['msclkid', 'clientIpAddress', 'clientUserAgent']) {
    if (looksHashed(u[key])) return [`userData.${key}`, 'must not be hashed'];
  }
  const c = event.customData;
  if (c !== undefined) {
    if (!isObject(c)) return ['customData', 'must be an object'];
    const extraCustom = unknownKeys(c, customKeys);
    if (extraCustom.length > 0) return [`customData.${extraCustom[0]}`, 'is not a customData property'];
    if (c.value !== undefined && typeof c.value !== 'number') return ['customData.value', 'must be a number'];
  }
  return null;
}

export function microsoftPlatform(options: { tagId: string; token: string }): MicrosoftPlatform {
  const violations: string[] = [];
  const accepted: Json[] = [];
  const script = scriptQueue();
  const invalid = (why: string) => {
    violations.push(why);
    return microsoftError(400, 'InvalidRequest', why);
  };

  const handler = (request: RecordedTestRequest): TestResponse => {
    const path = pathOf(request);
    if (request.method !== 'POST' || path !== `/v1/${options.tagId}/events`) {
      violations.push(`unexpected ${request.method} ${request.url}`);
      return microsoftError(404, 'NotFound', 'Not found');
    }
    if (request.headers.authorization !== `Bearer ${options.token}`) {
      return microsoftError(401, 'Unauthorized', 'The token is not valid for this UET tag');
    }
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      return invalid('content-type must be application/json');
    }
    const body = request.json;
    if (!isObject(body)) return invalid('body must be a JSON object');
    const extra = unknownKeys(body, ['data', 'continueOnValidationError', 'dataProvider']);
    if (extra.length > 0) return invalid(`${extra[0]} is not a request property`);
    const data = body.data;
    if (!Array.isArray(data) || data.length === 0) return invalid('data must be a non-empty array');
    if (data.length > 1000) return invalid(`data has ${data.length} events; the maximum is 1000`);
    const now = Math.floor(Date.now() / 1000);
    const details: MicrosoftDetail[] = [];
    data.forEach((event, index) => {
      const problem = eventProblem(event, now);
      if (problem) {
        violations.push(`data[${index}].${problem[0]} ${problem[1]}`);
        details.push({
          index,
          propertyName: problem[0],
          errorMessage: problem[1],
          errorCode: 'InvalidValue',
          isWarning: false,
        });
      }
    });
    if (details.length > 0 && body.continueOnValidationError !== true) {
      return microsoftError(400, 'InvalidEvents', 'One or more events are invalid', details);
    }
    const scripted = script.take(request);
    if (scripted) return scripted;
    const bad = new Set(details.map((d) => d.index));
    accepted.push(...(data as Json[]).filter((_, i) => !bad.has(i)));
    const answer: Json = { eventsReceived: data.length - bad.size };
    if (details.length > 0)
      answer.error = { code: 'PartialSuccess', message: 'Some events are invalid', details };
    return { status: 200, body: answer };
  };
  return { handler, violations, accepted, answerNext: script.push };
}
