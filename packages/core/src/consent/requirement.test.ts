import { describe, expect, it } from 'vitest';
import { tcString } from '../testing/tc-string.js';
import { checkConsent, consentPurposePattern, readConsent, readSignal } from './requirement.js';

describe('readSignal', () => {
  it('reads GRANTED and DENIED in any case, and booleans; absent is unknown, anything else set is denied', () => {
    expect(['GRANTED', 'granted', ' Granted ', true].map(readSignal)).toEqual(Array(4).fill('granted'));
    expect(['DENIED', 'denied', false].map(readSignal)).toEqual(Array(3).fill('denied'));
    expect([undefined, null, ''].map(readSignal)).toEqual(Array(3).fill('unknown'));
    // Set but unreadable: never a licence to send, even with unknown: 'allow'.
    const unreadable = ['yes', 'no', 'false', 'true', 'GRANTED!', 1, 0, {}, [], { __proto__: null }];
    expect(unreadable.map(readSignal)).toEqual(Array(unreadable.length).fill('denied'));
  });
});

describe('readConsent', () => {
  it('reads an old event without the new fields as unknown, not denied', () => {
    const old = readConsent({ consent: { ad_user_data: 'GRANTED', ad_personalization: 'DENIED' } });
    expect(old.state('ad_user_data')).toBe('granted');
    expect(old.state('ad_personalization')).toBe('denied');
    expect(old.state('ad_storage')).toBe('unknown');
    expect(old.state('analytics_storage')).toBe('unknown');
    expect(old.state('tcf_purpose_1')).toBe('unknown');
    expect(readConsent({}).state('ad_user_data')).toBe('unknown');
    expect(readConsent(null).state('ad_user_data')).toBe('unknown');
    expect(readConsent({ consent: 'GRANTED' }).state('ad_user_data')).toBe('unknown');
  });

  it('derives Google signals from the TC string: storage 1, user data 1+7, personalisation 3+4', () => {
    const all = readConsent({ consent: { tcf_string: tcString({ purposes: [1, 3, 4, 7] }) } });
    expect(['ad_storage', 'ad_user_data', 'ad_personalization'].map((p) => all.state(p))).toEqual([
      'granted',
      'granted',
      'granted',
    ]);
    // analytics_storage has no TCF purpose
    expect(all.state('analytics_storage')).toBe('unknown');

    const storageOnly = readConsent({ consent: { tcf_string: tcString({ purposes: [1, 3] }) } });
    expect(storageOnly.state('ad_storage')).toBe('granted');
    expect(storageOnly.state('ad_user_data')).toBe('denied');
    expect(storageOnly.state('ad_personalization')).toBe('denied');
    expect(storageOnly.state('tcf_purpose_3')).toBe('granted');
    expect(storageOnly.state('tcf_purpose_4')).toBe('denied');
  });

  it('lets an explicit signal win over the TC string', () => {
    const c = readConsent({
      consent: { ad_user_data: 'DENIED', tcf_string: tcString({ purposes: [1, 7] }) },
    });
    expect(c.state('ad_user_data')).toBe('denied');
    expect(c.state('ad_storage')).toBe('granted');
  });

  it('reads gdpr_consent as the TC string too', () => {
    expect(
      readConsent({ consent: { gdpr_consent: tcString({ purposes: [1] }) } }).state('tcf_purpose_1'),
    ).toBe('granted');
  });

  it('reads an unreadable TC string as denied for what it would answer', () => {
    for (const broken of ['not a tc string!', 'BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA', 42]) {
      const c = readConsent({ consent: { tcf_string: broken } });
      expect(c.tcf).toBeNull();
      expect(c.tcfError).toEqual(expect.any(String));
      expect(c.state('tcf_purpose_1')).toBe('denied');
      expect(c.state('ad_user_data')).toBe('denied');
      expect(c.state('analytics_storage')).toBe('unknown');
    }
  });

  it('with a vendor id, counts TCF purposes only when that vendor has consent', () => {
    const payload = (ids: number[]) => ({
      consent: { tcf_string: tcString({ purposes: [1, 7], vendors: { maxVendorId: 800, ids } }) },
    });
    expect(readConsent(payload([755]), { tcfVendorId: 755 }).state('ad_user_data')).toBe('granted');
    expect(readConsent(payload([1]), { tcfVendorId: 755 }).state('ad_user_data')).toBe('denied');
    expect(readConsent(payload([1]), {}).state('ad_user_data')).toBe('granted');
  });
});

describe('checkConsent', () => {
  const requirement = { require: ['ad_user_data'] };

  it('is met only by GRANTED by default', () => {
    expect(checkConsent(requirement, { consent: { ad_user_data: 'GRANTED' } })).toEqual({ met: true });
    expect(checkConsent(requirement, { consent: { ad_user_data: 'DENIED' } })).toEqual({
      met: false,
      purpose: 'ad_user_data',
      state: 'denied',
    });
    expect(checkConsent(requirement, {})).toEqual({ met: false, purpose: 'ad_user_data', state: 'unknown' });
  });

  it('lets unknown through with unknown: allow, never denied', () => {
    const allow = { ...requirement, unknown: 'allow' as const };
    expect(checkConsent(allow, {})).toEqual({ met: true });
    expect(checkConsent(allow, { consent: { ad_user_data: 'DENIED' } })).toMatchObject({ met: false });
  });

  it('needs every listed purpose and names the first one missing', () => {
    const both = { require: ['ad_user_data', 'ad_personalization', 'tcf_purpose_7'] };
    const payload = {
      consent: {
        ad_user_data: 'GRANTED',
        ad_personalization: 'GRANTED',
        tcf_string: tcString({ purposes: [1] }),
      },
    };
    expect(checkConsent(both, payload)).toEqual({ met: false, purpose: 'tcf_purpose_7', state: 'denied' });
  });

  it('lets everything through without a requirement', () => {
    expect(checkConsent(null, { consent: { ad_user_data: 'DENIED' } })).toEqual({ met: true });
    expect(checkConsent({ require: [] }, {})).toEqual({ met: true });
  });

  it('names the purposes a pipe may require', () => {
    for (const ok of [
      'ad_storage',
      'analytics_storage',
      'ad_user_data',
      'ad_personalization',
      'tcf_purpose_1',
    ])
      expect(consentPurposePattern.test(ok)).toBe(true);
    expect(consentPurposePattern.test('tcf_purpose_24')).toBe(true);
    for (const bad of ['tcf_purpose_0', 'tcf_purpose_25', 'AD_STORAGE', 'marketing', 'tcf_purpose_01'])
      expect(consentPurposePattern.test(bad)).toBe(false);
  });
});
