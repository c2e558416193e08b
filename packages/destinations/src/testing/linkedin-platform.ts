/**
 * A local stand-in for the LinkedIn Conversions API (tests only), checking requests the way
 * LinkedIn documents them (docs/destinations.md, LinkedIn): `POST /rest/conversionEvents` with a
 * bearer token, `LinkedIn-Version`, `X-Restli-Protocol-Version: 2.0.0` and
 * `X-RestLi-Method: BATCH_CREATE`, at most 5000 elements, known conversion rule URNs, epoch
 * milliseconds no older than 90 days, SHA-256 emails, amounts as strings. A batch with invalid
 * elements gets LinkedIn's 422 naming them by index (and is listed in `violations`).
 */
import type { RecordedTestRequest, TestResponse } from '@openpipes/core/testing';
import {
  isHashed,
  isObject,
  type Json,
  pathOf,
  type StandIn,
  scriptQueue,
  unknownKeys,
} from './stand-in-kit.js';

/** LinkedIn's error body. */
export function linkedinError(status: number, message: string, serviceErrorCode?: number): TestResponse {
  return { status, body: { status, message, ...(serviceErrorCode ? { serviceErrorCode } : {}) } };
}

/** A 200 batch answer with one status per element (201 created, or an error). */
export function linkedinBatchAnswer(
  statuses: Array<number | { status: number; message: string }>,
): TestResponse {
  return {
    status: 200,
    body: {
      elements: statuses.map((s) =>
        typeof s === 'number'
          ? { status: s }
          : { status: s.status, error: { message: s.message, status: s.status } },
      ),
    },
  };
}

export interface LinkedInPlatform extends StandIn {
  /** Every conversion event LinkedIn created. */
  accepted: Json[];
}

const elementKeys = ['conversion', 'conversionHappenedAt', 'conversionValue', 'eventId', 'user'];
const idTypes = ['SHA256_EMAIL', 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', 'ACXIOM_ID', 'ORACLE_MOAT_ID'];
const userInfoKeys = ['firstName', 'lastName', 'title', 'companyName', 'countryCode'];

/** Why LinkedIn would refuse element `i` (as "/path :: why"), or null. */
function elementProblem(el: unknown, rules: string[], now: number): string | null {
  if (!isObject(el)) return '/ :: must be a record';
  const extra = unknownKeys(el, elementKeys);
  if (extra.length > 0) return `/${extra[0]} :: unrecognized field`;
  if (typeof el.conversion !== 'string' || !rules.includes(el.conversion)) {
    return '/conversion :: not a conversion rule of this account with conversionMethod CONVERSIONS_API';
  }
  const at = el.conversionHappenedAt;
  if (!Number.isInteger(at) || (at as number) < 1e12)
    return '/conversionHappenedAt :: must be epoch milliseconds';
  if ((at as number) < now - 90 * 86400_000) return '/conversionHappenedAt :: older than 90 days';
  if (el.conversionValue !== undefined) {
    const v = el.conversionValue;
    if (!isObject(v) || typeof v.currencyCode !== 'string' || !/^[A-Z]{3}$/.test(v.currencyCode)) {
      return '/conversionValue/currencyCode :: must be an ISO 4217 code';
    }
    if (typeof v.amount !== 'string' || !/^\d+(\.\d+)?$/.test(v.amount)) {
      return '/conversionValue/amount :: must be a decimal string';
    }
  }
  const user = el.user;
  if (!isObject(user)) return '/user :: required';
  if (unknownKeys(user, ['userIds', 'userInfo']).length > 0) return '/user :: unrecognized field';
  const ids = user.userIds ?? [];
  if (!Array.isArray(ids)) return '/user/userIds :: must be an array';
  for (const [n, id] of ids.entries()) {
    if (!isObject(id) || !idTypes.includes(id.idType as string) || typeof id.idValue !== 'string') {
      return `/user/userIds/${n} :: needs a known idType and a string idValue`;
    }
    if (id.idType === 'SHA256_EMAIL' && !isHashed(id.idValue)) {
      return `/user/userIds/${n}/idValue :: SHA256_EMAIL must be SHA-256 hex`;
    }
  }
  const info = user.userInfo;
  if (info !== undefined) {
    if (!isObject(info) || unknownKeys(info, userInfoKeys).length > 0)
      return '/user/userInfo :: unrecognized field';
    if (!info.firstName || !info.lastName)
      return '/user/userInfo :: firstName and lastName are both required';
  }
  if (ids.length === 0 && info === undefined) return '/user :: needs userIds or userInfo';
  return null;
}

export function linkedinPlatform(options: {
  token: string;
  ruleIds: string[];
  version?: string;
}): LinkedInPlatform {
  const violations: string[] = [];
  const accepted: Json[] = [];
  const script = scriptQueue();
  const rules = options.ruleIds.map((id) => `urn:lla:llaPartnerConversion:${id}`);
  const invalid = (why: string, status = 400) => {
    violations.push(why);
    return linkedinError(status, why);
  };

  const handler = (request: RecordedTestRequest): TestResponse => {
    const path = pathOf(request);
    if (request.method !== 'POST' || path !== '/rest/conversionEvents') {
      violations.push(`unexpected ${request.method} ${path}`);
      return linkedinError(404, 'Resource not found');
    }
    if (request.headers.authorization !== `Bearer ${options.token}`) {
      return linkedinError(401, 'Invalid access token', 65600);
    }
    const version = request.headers['linkedin-version'];
    if (!version || (options.version !== undefined && version !== options.version)) {
      return invalid(`LinkedIn-Version ${version ?? '(missing)'} is not an active version`, 426);
    }
    if (request.headers['x-restli-protocol-version'] !== '2.0.0') {
      return invalid('X-Restli-Protocol-Version must be 2.0.0');
    }
    if (request.headers['x-restli-method'] !== 'BATCH_CREATE') {
      return invalid('a batch of elements needs X-RestLi-Method: BATCH_CREATE');
    }
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      return invalid('content-type must be application/json');
    }
    const body = request.json;
    if (!isObject(body) || unknownKeys(body, ['elements']).length > 0)
      return invalid('body must be {elements}');
    const elements = body.elements;
    if (!Array.isArray(elements) || elements.length === 0)
      return invalid('elements must be a non-empty array');
    if (elements.length > 5000) return invalid(`elements has ${elements.length} items; the maximum is 5000`);
    const now = Date.now();
    const lines: string[] = [];
    for (const [i, el] of elements.entries()) {
      const problem = elementProblem(el, rules, now);
      if (problem) lines.push(`Index: ${i}, ERROR :: ${problem}`);
    }
    if (lines.length > 0) {
      violations.push(...lines);
      return linkedinError(422, lines.join('\n'));
    }
    const scripted = script.take(request);
    if (scripted) {
      // Elements a scripted 200 answers 201 for are created.
      const answer = scripted.body as { elements?: Array<{ status: number }> } | undefined;
      if ((scripted.status ?? 200) < 300 && Array.isArray(answer?.elements)) {
        answer.elements.forEach((s, i) => {
          if (s.status === 201) accepted.push(elements[i] as Json);
        });
      }
      return scripted;
    }
    accepted.push(...(elements as Json[]));
    return { status: 200, body: { elements: elements.map(() => ({ status: 201 })) } };
  };
  return { handler, violations, accepted, answerNext: script.push };
}
