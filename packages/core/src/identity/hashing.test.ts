import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashIdentifier, normaliseEmailGoogle, normaliseEmailReddit, normalisePhoneE164 } from './hashing.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('hashIdentifier: the platforms’ published vectors (CONTRACTS.md)', () => {
  it('Meta email: trim and lowercase', () => {
    expect(hashIdentifier('email', '  John_Smith@gmail.com ', ['sha256'])).toEqual({
      sha256: '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f',
    });
  });

  it('Meta phone: E.164 digits without +', () => {
    expect(hashIdentifier('phone', '+1 (650) 555-1212', ['sha256_digits'])).toEqual({
      sha256_digits: 'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176',
    });
  });

  it('Snapchat: phone digits with country code, and its email vector', () => {
    expect(hashIdentifier('phone', '+44 844 412 4653', ['sha256_digits'])?.sha256_digits).toMatch(
      /^dc008fda.*6383$/,
    );
    expect(hashIdentifier('email', 'person@example.com', ['sha256'])?.sha256).toMatch(/^542d2401.*3345$/);
  });

  it('X: E.164 with + for phones, lowercase email', () => {
    expect(hashIdentifier('email', 'Test-Email@test.com', ['sha256'])?.sha256).toMatch(/^e586883b/);
    expect(hashIdentifier('phone', '+1 650 555 1212', ['sha256'])).toEqual({ sha256: sha('+16505551212') });
  });

  it('Google Data Manager: its published email vector', () => {
    expect(hashIdentifier('email', 'Jane.Doe@example.com', ['sha256_google'])?.sha256_google).toMatch(
      /^86e0b9e5.*6133d$/,
    );
  });
});

describe('one digest per normalisation', () => {
  it('Google removes dots before @ for gmail and googlemail; Meta does not', () => {
    const hashes = hashIdentifier('email', 'John.Smith@Gmail.com', [
      'sha256',
      'sha256_google',
      'sha256_reddit',
    ]);
    expect(hashes).toEqual({
      sha256: sha('john.smith@gmail.com'),
      sha256_google: sha('johnsmith@gmail.com'),
      sha256_reddit: sha('johnsmith@gmail.com'),
    });
    expect(normaliseEmailGoogle('john.smith@googlemail.com')).toBe('johnsmith@googlemail.com');
    expect(normaliseEmailGoogle('john.smith@example.com')).toBe('john.smith@example.com');
  });

  it("Reddit drops +suffix and non-alphanumerics in the local part at any domain (Reddit's vector)", () => {
    // Reddit: alice@example.com and Al.ice$+Apple@Example.Com both hash to ff8d9819...d976.
    expect(normaliseEmailReddit('Al.ice$+Apple@Example.Com')).toBe('alice@example.com');
    expect(sha('alice@example.com')).toBe('ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976');
    expect(normaliseEmailReddit('John_Smith-Jr@gmail.com')).toBe('johnsmithjr@gmail.com');
  });

  it('Reddit drops dots and +suffix in the local part at any domain', () => {
    expect(normaliseEmailReddit('Al.ice+Apple@Example.Com')).toBe('alice@example.com');
    expect(hashIdentifier('email', 'Al.ice+Apple@Example.Com', ['sha256_reddit'])).toEqual({
      sha256_reddit: sha('alice@example.com'),
    });
  });

  it('a digest given is kept as sha256 only, lowercased', () => {
    const digest = sha('someone@example.org').toUpperCase();
    expect(hashIdentifier('email', digest, ['sha256', 'sha256_google'])).toEqual({
      sha256: digest.toLowerCase(),
    });
  });

  it('external ids are hashed trimmed, as given otherwise', () => {
    expect(hashIdentifier('external_id', '  Cust-42 ', ['sha256'])).toEqual({ sha256: sha('Cust-42') });
  });

  it('what cannot be normalised gives nothing: no @, a national phone without a country', () => {
    expect(hashIdentifier('email', 'not an email', ['sha256'])).toBeNull();
    expect(hashIdentifier('email', '@example.com', ['sha256'])).toBeNull();
    expect(hashIdentifier('phone', '0601 123 456', ['sha256'])).toBeNull();
    expect(hashIdentifier('phone', '   ', ['sha256'])).toBeNull();
  });

  it('national phones complete with the default country', () => {
    expect(normalisePhoneE164('601 123 456', 'cz')).toBe('+420601123456');
    expect(normalisePhoneE164('00 420 601 123 456')).toBe('+420601123456');
  });
});
