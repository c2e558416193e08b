/**
 * TC strings for tests, built field by field as the IAB TCF v2 spec lays out the core segment
 * (docs/consent.md), so a test states exactly which bits it sets. Written from the spec's table,
 * not from the decoder.
 *
 * @example
 * ```ts
 * const tc = tcString({ purposes: [1, 7], vendors: { maxVendorId: 800, ids: [755] } });
 * await pipes.ingest('web', [{ ..., event_payload: { consent: { tcf_string: tc } } }]);
 * ```
 */
export interface TcFields {
  version?: number;
  createdDs?: number;
  lastUpdatedDs?: number;
  cmpId?: number;
  cmpVersion?: number;
  consentScreen?: number;
  language?: string;
  vendorListVersion?: number;
  policyVersion?: number;
  isServiceSpecific?: boolean;
  useNonStandardTexts?: boolean;
  specialFeatures?: number[];
  purposes?: number[];
  legitimateInterests?: number[];
  purposeOneTreatment?: boolean;
  publisherCC?: string;
  /** Vendor consents as a bit field of `maxVendorId` bits ... */
  vendors?: { maxVendorId: number; ids: number[] };
  /** ... or as range entries. */
  vendorRanges?: { maxVendorId: number; entries: Array<[number] | [number, number]> };
}

const bits = (value: number, width: number) => {
  let out = '';
  for (let i = width - 1; i >= 0; i--) out += Math.floor(value / 2 ** i) % 2 === 1 ? '1' : '0';
  return out;
};
const field = (ids: number[], width: number) => {
  let out = '';
  for (let i = 1; i <= width; i++) out += ids.includes(i) ? '1' : '0';
  return out;
};
const letters = (two: string) => bits(two.charCodeAt(0) - 65, 6) + bits(two.charCodeAt(1) - 65, 6);
const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The bit string of a core segment. */
export function tcBits(f: TcFields): string {
  let s = '';
  s += bits(f.version ?? 2, 6);
  s += bits(f.createdDs ?? 17_000_000_000, 36);
  s += bits(f.lastUpdatedDs ?? f.createdDs ?? 17_000_000_000, 36);
  s += bits(f.cmpId ?? 7, 12);
  s += bits(f.cmpVersion ?? 1, 12);
  s += bits(f.consentScreen ?? 1, 6);
  s += letters(f.language ?? 'EN');
  s += bits(f.vendorListVersion ?? 80, 12);
  s += bits(f.policyVersion ?? 5, 6);
  s += f.isServiceSpecific ? '1' : '0';
  s += f.useNonStandardTexts ? '1' : '0';
  s += field(f.specialFeatures ?? [], 12);
  s += field(f.purposes ?? [], 24);
  s += field(f.legitimateInterests ?? [], 24);
  s += f.purposeOneTreatment ? '1' : '0';
  s += letters(f.publisherCC ?? 'AA');
  if (f.vendorRanges) {
    s += `${bits(f.vendorRanges.maxVendorId, 16)}1${bits(f.vendorRanges.entries.length, 12)}`;
    for (const entry of f.vendorRanges.entries) {
      s += entry.length === 2 ? `1${bits(entry[0], 16)}${bits(entry[1], 16)}` : `0${bits(entry[0], 16)}`;
    }
  } else {
    const v = f.vendors ?? { maxVendorId: 0, ids: [] };
    s += `${bits(v.maxVendorId, 16)}0${field(v.ids, v.maxVendorId)}`;
  }
  return s;
}

/** base64url of a bit string, zero-padded to whole characters, no `=`. */
export function toBase64Url(bitString: string): string {
  const padded = bitString.padEnd(Math.ceil(bitString.length / 6) * 6, '0');
  let out = '';
  for (let i = 0; i < padded.length; i += 6) out += b64[Number.parseInt(padded.slice(i, i + 6), 2)];
  return out;
}

/** A TC string (core segment only) with the given fields. */
export function tcString(f: TcFields = {}): string {
  return toBase64Url(tcBits(f));
}
