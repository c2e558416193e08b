/**
 * JavaScript helpers that templates paste INTO the generated transform and `send()` sources. They
 * run inside the QuickJS sandbox, so they are pasted as text, not imported: the user who opens a
 * destination sees every line that touches their data and can edit it. Hashing and E.164 parsing
 * cross to the host (`openpipes.sha256Hex`, `openpipes.phoneE164`), where they are ~10x faster than
 * guest JS.
 *
 * Each snippet is a .js file in this folder, linted by Biome and type-checked with JSDoc (see
 * tsconfig.guest.json); the build inlines its text (`?raw`). Each is self-contained apart from the
 * ones it names in its comment.
 */
import compact from './compact.js?raw';
import consent from './consent.js?raw';
import fieldsToHash from './fields-to-hash.js?raw';
import googleDateTime from './google-date-time.js?raw';
import googleOAuth from './google-oauth.js?raw';
import hash from './hash.js?raw';
import mappedEvents from './mapped-events.js?raw';
import metaRow from './meta-row.js?raw';
import metaUserData from './meta-user-data.js?raw';
import normalise from './normalise.js?raw';
import profile from './profile.js?raw';
import retryAfter from './retry-after.js?raw';
import sendInChunks from './send-in-chunks.js?raw';
import sendPlumbing from './send-plumbing.js?raw';
import time from './time.js?raw';

/** `compact(obj)`: drops undefined, null and '' fields (platforms reject empty values). */
export const compactSource = compact;

/**
 * `consentSignal(value)`, `googleConsent(consent)`, `limitedDataUse(consent)`: the canonical event's
 * consent (docs/consent.md) as the platforms take it.
 */
export const consentSource = consent;

/**
 * `mappedEvents(events, table, toPayload, unmappedReason)`: a default transform's frame, one output
 * event a mapped event, the unmapped ones recorded as filtered. Every platform transform starts from it.
 */
export const mappedEventsSource = mappedEvents;

/**
 * `fieldsToHash(objects, table)`: the `[object, key, normalise]` triples `hashInPlace` takes, for
 * the keys of a template's table of hashed fields (key -> normaliser) that each object has.
 */
export const fieldsToHashSource = fieldsToHash;

/**
 * `isSha256Hex`, `hashInPlace(fields)`: normalise + SHA-256 many values with ONE host call.
 * Uses `openpipes.sha256Hex` (array form).
 */
export const hashSource = hash;

/**
 * `metaUserData(e, profiles)`: the `user_data` fields Meta's, Snapchat's and Pinterest's Conversions
 * APIs share, raw (the template adds its own, then compacts and hashes). Uses `profileSource`'s
 * helpers.
 */
export const metaUserDataSource = metaUserData;

/**
 * `metaStyleRow(row)`: an event's row as Meta's, Snapchat's and Pinterest's send() take it (Unix
 * seconds, `SETTINGS.action_source` as the default, its own `user_data`). Uses `toUnixSeconds`.
 */
export const metaRowSource = metaRow;

/**
 * `normalise.*`: the platforms' normalisation rules before hashing. Reads `SETTINGS.default_country`
 * (ISO alpha-2, for national phone numbers). Uses `openpipes.phoneE164`.
 */
export const normaliseSource = normalise;

/**
 * `fromProfile(profiles, e, kind, scheme)`, `profileAttribute(profiles, e, name)`, `firstDefined(...)`:
 * what an event's stitched profile (`profiles[event_id]`) knows, for defaults that fill what the
 * event lacks.
 */
export const profileSource = profile;

/** `toUnixSeconds(value)`: ISO 8601, Unix seconds or Unix milliseconds -> integer Unix seconds. */
export const timeSource = time;

/**
 * `googleDateTime(value)`: Google Ads' `yyyy-mm-dd hh:mm:ss+hh:mm`. Keeps the sender's offset when
 * there is one, drops fractions of a second, and writes UTC otherwise. Uses `toUnixSeconds`.
 */
export const googleDateTimeSource = googleDateTime;

/**
 * `accessToken(credentials, rejected)`, `forgetAccessToken()`: Google's OAuth 2.0 refresh-token flow
 * against `SETTINGS.token_url`, the access token cached while the sandbox context stays warm. Uses
 * `readJson` and `httpFailure` (send-plumbing).
 */
export const googleOAuthSource = googleOAuth;

/**
 * `readJson(res)`, `chunks(list, size)`, `finish(outcomes, testMode)`, `httpFailure(status, code,
 * message)`, `acceptedRows(events, outcomes, toRow, refusal)`, `settleEach(outcomes, from, verdicts)`,
 * `tooOld(field, timeMs, why)`: HTTP and result plumbing every `send()` uses.
 */
export const sendPlumbingSource = sendPlumbing;

/**
 * `retryAfterSeconds(res)`, `finishWithHint(outcomes, testMode, seconds)`, `settle(outcomes, from,
 * verdict, res, seconds)`: the platform's Retry-After hint carried into the result. Uses `finish`
 * (send-plumbing).
 */
export const retryAfterSource = retryAfter;

/**
 * `sendInChunks(rows, from, outcomes, { size, testMode }, sendChunk)`: a batching send()'s request
 * loop, one request a chunk, its verdicts folded into the result with the longest Retry-After hint.
 * Uses `chunks`, `settleEach` (send-plumbing), `settle`, `finishWithHint` (retry-after).
 */
export const sendInChunksSource = sendInChunks;

/**
 * `hashInPlace`, `normalise.*` and `toUnixSeconds`, in that order: the snippets every template that
 * hashes personal data pastes into its transform (and, where `send()` hashes late, into `send()`).
 */
export const hashingSources: readonly string[] = [hashSource, normaliseSource, timeSource];

/**
 * `compact` and `mappedEvents`, in that order: the snippets every platform's default transform
 * pastes first (its payload is built in `mappedEvents`' callback and compacted).
 */
export const transformFrameSources: readonly string[] = [compactSource, mappedEventsSource];

/**
 * `send-plumbing`, `retry-after` and `sendInChunks`, in that order: what every send() that batches
 * events into requests pastes (its own code calls `acceptedRows`, then `sendInChunks`).
 */
export const batchingSendSources: readonly string[] = [
  sendPlumbingSource,
  retryAfterSource,
  sendInChunksSource,
];

/**
 * A generated source as the user sees it: the header comment, the settings as an editable
 * `SETTINGS` constant, then each part (snippets first, the template's own code last), each after a
 * blank line.
 */
export function generatedSource(header: string, settings: Record<string, unknown>, parts: string[]): string {
  return header + settingsSource(settings) + parts.map((part) => `\n${part}`).join('');
}

/** Renders the settings a template bakes into its sources, as an editable constant. */
export function settingsSource(settings: Record<string, unknown>): string {
  return `const SETTINGS = ${JSON.stringify(settings, null, 2)};\n`;
}
