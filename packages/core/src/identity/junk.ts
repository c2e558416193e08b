/**
 * Values that are not a person (docs/identifiers.md, "Values that never link"). Linking on them would
 * merge every visitor who typed `test@test.com` into one mega-profile, so capture drops them. The lists
 * are a setting: `JunkPolicy` replaces the defaults part by part.
 */

export interface JunkPolicy {
  /** Values never linked, for every kind (compared trimmed and lowercased). */
  values: readonly string[];
  /** Whole email addresses never linked. */
  emails: readonly string[];
  /** Email domains never linked. */
  emailDomains: readonly string[];
  /** Email local parts (before `@`) never linked, at any domain. */
  emailLocalParts: readonly string[];
}

export const DEFAULT_JUNK: JunkPolicy = {
  values: [
    '',
    'null',
    'undefined',
    '0',
    'none',
    'n/a',
    'na',
    '-',
    'nan',
    'unknown',
    'false',
    'true',
    '[object object]',
  ],
  emails: ['test@test.com', 'a@a.com', 'email@email.com', 'user@domain.com', 'test@gmail.com'],
  emailDomains: ['example.com', 'example.org', 'example.net', 'test.com', 'domain.com', 'localhost'],
  emailLocalParts: ['noreply', 'no-reply', 'donotreply', 'do-not-reply'],
};

/** The defaults with the parts an operator set replaced. */
export function junkPolicy(overrides: Partial<JunkPolicy> = {}): JunkPolicy {
  return { ...DEFAULT_JUNK, ...overrides };
}

/** Longer values are dropped: no platform takes them, and they are how a sender would bloat the store. */
export const MAX_IDENTIFIER_LENGTH = 512;

/** True when `value` (trimmed) must never be stored or linked as an identifier of `kind`. */
export function isJunk(kind: string, value: string, policy: JunkPolicy = DEFAULT_JUNK): boolean {
  const text = value.trim().toLowerCase();
  if (text.length === 0 || text.length > MAX_IDENTIFIER_LENGTH) return true;
  if (policy.values.includes(text)) return true;
  // A SHA-256 digest given for a personal value cannot be judged; it is kept as given.
  if (/^[0-9a-f]{64}$/.test(text)) return false;
  if (kind === 'email') {
    if (policy.emails.includes(text)) return true;
    const at = text.lastIndexOf('@');
    if (at <= 0) return true;
    return (
      policy.emailDomains.includes(text.slice(at + 1)) || policy.emailLocalParts.includes(text.slice(0, at))
    );
  }
  if (kind === 'phone') {
    const digits = text.replace(/\D/g, '');
    return (
      digits.length < 6 || /^(\d)\1*$/.test(digits) || digits === '1234567890' || digits === '0123456789'
    );
  }
  return false;
}
