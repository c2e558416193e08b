import { describe, expect, it } from 'vitest';
import { tcBits, tcString, toBase64Url } from '../testing/tc-string.js';
import { decodeTcString, hasVendorConsent, maxTcStringLength, TcfDecodeError } from './tcf.js';

describe('decodeTcString', () => {
  it('puts PurposesConsent at bit 152, 24 bits wide', () => {
    const s = tcBits({ purposes: [1, 3, 4, 7, 24] });
    expect(s.slice(152, 176)).toBe('101100100000000000000001');
    expect(decodeTcString(toBase64Url(s)).purposeConsents).toEqual([1, 3, 4, 7, 24]);
  });

  it('reads every header field', () => {
    const tc = decodeTcString(
      tcString({
        createdDs: 17_331_234_567,
        lastUpdatedDs: 17_331_234_999,
        cmpId: 300,
        cmpVersion: 4095,
        consentScreen: 63,
        language: 'FR',
        vendorListVersion: 123,
        policyVersion: 4,
        isServiceSpecific: true,
        useNonStandardTexts: false,
        specialFeatures: [1, 2],
        purposes: [1],
        legitimateInterests: [2, 7, 10],
        purposeOneTreatment: true,
        publisherCC: 'DE',
      }),
    );
    expect(tc).toEqual({
      version: 2,
      created: new Date(1_733_123_456_700).toISOString(),
      lastUpdated: new Date(1_733_123_499_900).toISOString(),
      cmpId: 300,
      cmpVersion: 4095,
      consentScreen: 63,
      consentLanguage: 'FR',
      vendorListVersion: 123,
      policyVersion: 4,
      isServiceSpecific: true,
      useNonStandardTexts: false,
      specialFeatureOptIns: [1, 2],
      purposeConsents: [1],
      purposeLegitimateInterests: [2, 7, 10],
      purposeOneTreatment: true,
      publisherCountryCode: 'DE',
      vendorConsents: [],
    });
  });

  it('reads vendor consents as a bit field', () => {
    const tc = decodeTcString(tcString({ vendors: { maxVendorId: 800, ids: [1, 755, 800] } }));
    expect(tc.vendorConsents).toEqual([1, 755, 800]);
  });

  it('reads vendor consents as ranges and single ids', () => {
    const tc = decodeTcString(
      tcString({ vendorRanges: { maxVendorId: 900, entries: [[2], [750, 756], [900]] } }),
    );
    expect(tc.vendorConsents).toEqual([2, 750, 751, 752, 753, 754, 755, 756, 900]);
  });

  it('reads overlapping ranges once each, and a hostile string of thousands of full ranges', () => {
    const overlapping = tcString({
      vendorRanges: { maxVendorId: 20, entries: [[3, 8], [5, 10], [7], [20]] },
    });
    expect(decodeTcString(overlapping).vendorConsents).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 20]);
    // 2900 ranges of 1-65535: expanded one id at a time that would be 190 million steps; listed
    // through a difference array it is one pass, and asked about one vendor it lists nothing.
    const entries = Array.from({ length: 2900 }, () => [1, 65535] as [number, number]);
    const hostile = decodeTcString(tcString({ vendorRanges: { maxVendorId: 65535, entries } }));
    expect(hasVendorConsent(hostile, 65535)).toBe(true);
    expect(hasVendorConsent(hostile, 65536)).toBe(false);
    expect(hostile.vendorConsents).toHaveLength(65535);
  });

  it('answers one vendor exactly as the full list does, for bit fields and ranges', () => {
    const strings = [
      tcString({ vendors: { maxVendorId: 40, ids: [1, 2, 17, 39, 40] } }),
      tcString({ vendors: { maxVendorId: 1, ids: [] } }),
      tcString({ vendorRanges: { maxVendorId: 40, entries: [[2], [5, 9], [8, 12], [40]] } }),
      tcString({ vendorRanges: { maxVendorId: 3, entries: [] } }),
    ];
    for (const text of strings) {
      const listed = decodeTcString(text).vendorConsents;
      const asked = decodeTcString(text); // a fresh decode: nothing listed before asking
      for (const id of [-1, 0, 0.5, ...Array.from({ length: 42 }, (_, i) => i + 1), 65536, Number.NaN]) {
        expect(hasVendorConsent(asked, id)).toBe(listed.includes(id));
      }
    }
  });

  it('ignores the segments after the core one', () => {
    const core = tcString({ purposes: [1, 7] });
    expect(decodeTcString(`${core}.IAAA.YAAAAAAAAAAA`).purposeConsents).toEqual([1, 7]);
  });

  it('reads a string without trailing padding bits', () => {
    // 213 header bits + 17 vendor bits = 230 bits: not a multiple of 6, the last sextet is padded.
    expect(tcBits({}).length).toBe(230);
    expect(decodeTcString(tcString({ purposes: [2] })).purposeConsents).toEqual([2]);
  });

  it('reads a TC string a CMP wrote (an example published with a TCF parser, 2020)', () => {
    const tc = decodeTcString(
      'COwaAK3OwaAK3GKAAAENAcCAAAAAAAAAAAAAAAAAAAAA.IF0EWSQgAYWwho0QUBzBAIYAfJgSCAMgSAAQIoCkFQICERBAEKiAQHAEQJAAAGBAAkACAAQAoHCBMCQABgAARiRCEQECIDRNABIBAggAKYQFAAARmikHC3ZCY702yOmQ.YAAAAAAAAAAAAAAAAAA',
    );
    expect(tc).toMatchObject({
      version: 2,
      created: '2020-03-17T13:13:54.300Z',
      cmpId: 394,
      consentLanguage: 'EN',
      vendorListVersion: 28,
      policyVersion: 2,
      publisherCountryCode: 'AA',
      purposeConsents: [],
      vendorConsents: [],
    });
  });

  it('refuses what is not a version 2 core segment, saying why', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      ['CO+abc', /not base64url \(found "\+"\)/],
      ['.abc', /no core segment/],
      [tcString({ version: 1 }), /version 1 is not supported/],
      [tcString().slice(0, 20), /truncated: CmpVersion|truncated/],
      [toBase64Url(tcBits({}).slice(0, 176)), /truncated: PurposesLITransparency/],
      [tcString({ vendors: { maxVendorId: 60000, ids: [] } }).slice(0, 60), /truncated: VendorConsents/],
      [tcString({ vendorRanges: { maxVendorId: 10, entries: [[5, 20]] } }), /range 5-20 is outside 1-10/],
      [tcString({ vendorRanges: { maxVendorId: 10, entries: [[0]] } }), /range 0-0/],
      ['A'.repeat(maxTcStringLength + 1), /longer than/],
    ];
    for (const [input, message] of cases) {
      expect(() => decodeTcString(input), input.slice(0, 40)).toThrow(TcfDecodeError);
      expect(() => decodeTcString(input)).toThrow(message);
    }
  });

  it('refuses letters outside A-Z in the language field', () => {
    const s = tcBits({});
    const broken = `${s.slice(0, 108)}111111${s.slice(114)}`;
    expect(() => decodeTcString(toBase64Url(broken))).toThrow(/ConsentLanguage is not two letters/);
  });
});
