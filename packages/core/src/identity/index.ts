/**
 * Identity: the identifier table (docs/identifiers.md) and what reads it. `captureIdentifiers` turns
 * one event into the identifiers a profile keeps; `hashIdentifier` is the normalise-and-hash step the
 * templates also perform, so digests agree.
 */

export {
  createProfilesApi,
  identifierRefs,
  type Profile,
  type ProfilesApi,
  profileSearchSchema,
} from './api.js';
export {
  type CapturedEvent,
  type CapturedIdentifier,
  type CaptureOptions,
  captureIdentifiers,
  isOfferable,
  MAX_VALUES_PER_KIND,
  parseCookies,
} from './capture.js';
export { type ConsentSplit, splitByConsent, storageSignalOf } from './consent.js';
export {
  createErasureApi,
  type ErasureAnswer,
  type ErasureApi,
  erasedEventIdDigest,
  exportLimit,
  exportMaxBytes,
  type PersonExport,
} from './erasure.js';
export {
  type HashOptions,
  hashIdentifier,
  isSha256Hex,
  normaliseEmail,
  normaliseEmailGoogle,
  normaliseEmailReddit,
  normalisePhoneE164,
} from './hashing.js';
export {
  ATTRIBUTES,
  type AttributeName,
  type CookieFormat,
  type CookieSource,
  type HashScheme,
  IDENTIFIERS,
  type IdentifierKind,
  type IdentifierSpec,
  identifierSpec,
  isIdentifierKind,
} from './identifiers.js';
export { DEFAULT_JUNK, isJunk, type JunkPolicy, junkPolicy, MAX_IDENTIFIER_LENGTH } from './junk.js';
export {
  DEFAULT_CAPS,
  type IdentifierCaps,
  identifierLastSeenOf,
  identifierRef,
  identifierValueOf,
  type LinkPlan,
  type ProfileLink,
  planLink,
  type StoredIdentifier,
  type StoredProfile,
  storedIdentifierLastSeen,
  storedIdentifierValue,
} from './profiles.js';
export {
  createIdentity,
  eventIndexBackfillKey,
  type Identity,
  type IdentityOptions,
  type OfferedIdentifier,
  type TransformProfile,
} from './stitch.js';
