/**
 * Personal identifiers become digests before anything keeps them: one SHA-256 (hex) per normalisation
 * a platform publishes (docs/identifiers.md, "Stored"). The rules match the templates' guest code
 * (packages/destinations/src/source/normalise.js, google-ads/identifiers.js), so a digest a profile
 * stored equals the one the template would compute from the raw value.
 */
import { createHash } from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js/min';
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import type { HashScheme } from './identifiers.js';

const SHA256_HEX = /^[0-9a-f]{64}$/i;

export const isSha256Hex = (value: string): boolean => SHA256_HEX.test(value);

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Trim, lowercase (Meta, TikTok and most others). */
export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

function splitEmail(email: string): [string, string] | null {
  const at = email.lastIndexOf('@');
  return at > 0 && at < email.length - 1 ? [email.slice(0, at), email.slice(at + 1)] : null;
}

/** Google's rule: also no dots before `@` for gmail.com and googlemail.com. */
export function normaliseEmailGoogle(raw: string): string {
  const email = normaliseEmail(raw).replace(/\s+/g, '');
  const parts = splitEmail(email);
  if (!parts || (parts[1] !== 'gmail.com' && parts[1] !== 'googlemail.com')) return email;
  return `${parts[0].replace(/\./g, '')}@${parts[1]}`;
}

/**
 * Reddit's rule (its Manual Advanced Matching page): lowercase, drop everything from the first `+`
 * in the local part, then every non-alphanumeric character of the local part, for every domain.
 */
export function normaliseEmailReddit(raw: string): string {
  const email = normaliseEmail(raw);
  const parts = splitEmail(email);
  if (!parts) return email;
  const local = (parts[0].split('+')[0] ?? '').replace(/[^a-z0-9]/g, '');
  return `${local}@${parts[1]}`;
}

/**
 * E.164 with `+` (`+16505551212`), or null. A number libphonenumber does not know is kept only when it
 * is plainly international (`+…`, `00…`) or starts with a country code digit; a national number (leading
 * 0) without `defaultCountry` cannot be completed and is dropped, as the templates do.
 */
export function normalisePhoneE164(raw: string, defaultCountry?: string): string | null {
  const text = raw.trim();
  if (!text) return null;
  const parsed = parsePhoneNumberFromString(text, defaultCountry?.toUpperCase() as CountryCode | undefined);
  if (parsed?.isValid()) return parsed.number;
  const digits = text.replace(/\D/g, '');
  if (text.startsWith('+') || digits.startsWith('00')) {
    const international = digits.replace(/^0+/, '');
    return international ? `+${international}` : null;
  }
  return /^[1-9]/.test(digits) ? `+${digits}` : null;
}

export interface HashOptions {
  /** ISO 3166-1 alpha-2, for national phone numbers. */
  defaultCountry?: string;
}

/**
 * The digests of one personal value, one per scheme. A value that already is a SHA-256 digest is kept
 * as `sha256` only (its other normalisations cannot be derived). Null when nothing usable is left.
 */
export function hashIdentifier(
  kind: 'email' | 'phone' | 'external_id',
  raw: string,
  schemes: readonly HashScheme[],
  options: HashOptions = {},
): Partial<Record<HashScheme, string>> | null {
  const text = raw.trim();
  if (!text) return null;
  if (isSha256Hex(text)) return { sha256: text.toLowerCase() };
  const out: Partial<Record<HashScheme, string>> = {};
  if (kind === 'external_id') {
    out.sha256 = sha256(text);
    return out;
  }
  if (kind === 'email') {
    if (!splitEmail(normaliseEmail(text))) return null;
    for (const scheme of schemes) {
      if (scheme === 'sha256') out.sha256 = sha256(normaliseEmail(text));
      else if (scheme === 'sha256_google') out.sha256_google = sha256(normaliseEmailGoogle(text));
      else if (scheme === 'sha256_reddit') out.sha256_reddit = sha256(normaliseEmailReddit(text));
    }
    return out;
  }
  const e164 = normalisePhoneE164(text, options.defaultCountry);
  if (!e164) return null;
  for (const scheme of schemes) {
    if (scheme === 'sha256') out.sha256 = sha256(e164);
    else if (scheme === 'sha256_digits') out.sha256_digits = sha256(e164.slice(1));
  }
  return out;
}
