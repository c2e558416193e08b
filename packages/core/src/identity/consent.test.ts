import { describe, expect, it } from 'vitest';
import { tcString } from '../testing/index.js';
import { captureIdentifiers } from './capture.js';
import { splitByConsent, storageSignalOf } from './consent.js';
import { IDENTIFIERS } from './identifiers.js';

const payload = (consent: unknown) => ({
  user_id: 'u-1',
  email: 'jane@shop.test',
  client_id: '123.456',
  page_url: 'https://shop.test/?fbclid=IwAR0x&gclid=Cj0x',
  fbp: 'fb.1.1700000000000.42',
  ...(consent === undefined ? {} : { consent }),
});

function split(consent: unknown) {
  const p = payload(consent);
  const { identifiers } = captureIdentifiers(p, { seenAt: Date.now() });
  const out = splitByConsent(p, identifiers);
  return {
    linkable: out.linkable.map((i) => i.kind).sort(),
    withheld: out.withheld.map((i) => i.kind).sort(),
    attributes: out.attributes,
    allows: out.allows,
  };
}

describe('splitByConsent', () => {
  it('links everything when the event says nothing about consent, or grants it', () => {
    for (const consent of [undefined, null, {}, { ad_user_data: 'GRANTED', ad_storage: 'granted' }]) {
      const out = split(consent);
      expect(out.withheld).toEqual([]);
      expect(out.linkable).toEqual(['email', 'fbc', 'fbp', 'ga_client_id', 'gclid', 'user_id']);
      expect(out.attributes).toBe(true);
    }
  });

  it('withholds every identifier and the attributes when ad_user_data is denied', () => {
    const out = split({ ad_user_data: 'DENIED', ad_storage: 'GRANTED' });
    expect(out.linkable).toEqual([]);
    expect(out.withheld).toEqual(['email', 'fbc', 'fbp', 'ga_client_id', 'gclid', 'user_id']);
    expect(out.attributes).toBe(false);
    expect(out.allows('user_id')).toBe(false);
  });

  it('withholds advertising cookies and click ids when ad_storage is denied, the ga client id when analytics_storage is', () => {
    expect(split({ ad_storage: 'denied' })).toMatchObject({
      linkable: ['email', 'ga_client_id', 'user_id'],
      withheld: ['fbc', 'fbp', 'gclid'],
      attributes: true,
    });
    expect(split({ analytics_storage: 'DENIED' })).toMatchObject({
      linkable: ['email', 'fbc', 'fbp', 'gclid', 'user_id'],
      withheld: ['ga_client_id'],
    });
  });

  it('reads a TC string as the pipes do: purpose 1 refused denies ad_storage and ad_user_data', () => {
    expect(split({ tcf_string: tcString({ purposes: [7] }) }).linkable).toEqual([]);
    expect(split({ tcf_string: tcString({ purposes: [1, 7] }) }).withheld).toEqual([]);
    // An explicit signal wins over the string.
    expect(
      split({ tcf_string: tcString({ purposes: [] }), ad_user_data: 'GRANTED', ad_storage: 'GRANTED' })
        .withheld,
    ).toEqual([]);
  });

  it('counts a signal it cannot read as denied', () => {
    expect(split({ ad_user_data: 'no' }).linkable).toEqual([]);
  });

  it('names a storage signal (or none) for every kind of the identifier table', () => {
    expect(Object.keys(storageSignalOf).sort()).toEqual(IDENTIFIERS.map((i) => i.kind).sort());
  });
});
