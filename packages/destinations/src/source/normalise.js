/** Normalisation before hashing, per field (the platforms' published rules). */
const normalise = {
  /** Trim, lowercase. */
  email: (s) => s.trim().toLowerCase(),
  /** E.164 with the '+' (TikTok, Google): '+16505551212'. */
  phoneE164: (s) => {
    const parsed = openpipes.phoneE164(s.trim(), SETTINGS.default_country || undefined);
    if (parsed) return parsed;
    // Not a valid number for libphonenumber: keep what can be trusted. '+...' and '00...' are
    // international; other digits not starting with 0 are taken to start with the country code;
    // a national number (leading 0) without SETTINGS.default_country cannot be completed: dropped.
    const text = s.trim();
    const digits = text.replace(/\D/g, '');
    if (text.startsWith('+') || digits.startsWith('00')) {
      const international = digits.replace(/^0+/, '');
      return international ? '+' + international : '';
    }
    return /^[1-9]/.test(digits) ? '+' + digits : '';
  },
  /** Digits only, country code first, no leading zeros (Meta): '16505551212'. */
  phoneDigits: (s) => normalise.phoneE164(s).replace(/\D/g, ''),
  /** Lowercase, no punctuation (first and last names). */
  name: (s) =>
    s
      .toLowerCase()
      .replace(/[\p{P}\p{S}]/gu, '')
      .replace(/\s+/g, ' ')
      .trim(),
  /** Lowercase letters only: no digits, spaces or punctuation (city, state). */
  letters: (s) => s.toLowerCase().replace(/[^\p{L}]/gu, ''),
  /** Lowercase, no spaces, the part before '-' (US ZIP+4 keeps the 5 digits). */
  zip: (s) => s.toLowerCase().replace(/\s+/g, '').split('-')[0],
  /** ISO 3166-1 alpha-2, lowercase. */
  country: (s) =>
    s
      .trim()
      .toLowerCase()
      .replace(/[^a-z]/g, ''),
  /** 'f' or 'm'. */
  gender: (s) => {
    const g = s.trim().toLowerCase().charAt(0);
    return g === 'f' || g === 'm' ? g : '';
  },
  /** YYYYMMDD. */
  dateOfBirth: (s) => {
    const digits = s.replace(/\D/g, '');
    return digits.length === 8 ? digits : '';
  },
  /** Trimmed as given (ids). */
  trim: (s) => s.trim(),
  /**
   * Google's rule for gmail.com and googlemail.com: no dots before the @ (`john.smith@gmail.com` ->
   * `johnsmith@gmail.com`); other addresses as given. Takes an address already lowercased.
   */
  withoutGmailDots: (email) => {
    const at = email.lastIndexOf('@');
    if (at < 0) return email;
    const domain = email.slice(at + 1);
    if (domain !== 'gmail.com' && domain !== 'googlemail.com') return email;
    return email.slice(0, at).replace(/\./g, '') + '@' + domain;
  },
};
