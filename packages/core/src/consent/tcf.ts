/**
 * A decoder for the core segment of an IAB TCF v2 TC string (the "euconsent-v2" value a CMP
 * writes). Only what a consent check needs is read: the header fields, the purpose consents and
 * legitimate interests, the special feature opt-ins, and the vendor consents. The disclosed-vendors
 * and publisher segments (after the first `.`) are ignored.
 *
 * The core segment is base64url without padding; bits are read most significant first, six per
 * character. Its layout (bit offsets from the start) is in docs/consent.md:
 *
 * ```
 *   0  Version 6 (= 2)             132  TcfPolicyVersion 6       200  PurposeOneTreatment 1
 *   6  Created 36 (deciseconds)    138  IsServiceSpecific 1      201  PublisherCC 12
 *  42  LastUpdated 36              139  UseNonStandardTexts 1    213  Vendor consents:
 *  78  CmpId 12                    140  SpecialFeatureOptIns 12        MaxVendorId 16, IsRangeEncoding 1,
 *  90  CmpVersion 12               152  PurposesConsent 24             then a bit field of MaxVendorId bits
 * 102  ConsentScreen 6             176  PurposesLITransparency 24      or NumEntries 12 and entries
 * 108  ConsentLanguage 12                                              (IsARange 1, Start 16, [End 16])
 * 120  VendorListVersion 12
 * ```
 */

/** The core segment of a TC string, decoded. Purpose and vendor ids are 1-based. */
export interface TcfCore {
  version: 2;
  /** When the string was created, ISO time (the string keeps deciseconds). */
  created: string;
  lastUpdated: string;
  cmpId: number;
  cmpVersion: number;
  consentScreen: number;
  /** Two letters, e.g. `EN`. */
  consentLanguage: string;
  vendorListVersion: number;
  policyVersion: number;
  isServiceSpecific: boolean;
  useNonStandardTexts: boolean;
  /** Special features (1..12) the user opted in to. */
  specialFeatureOptIns: number[];
  /** Purposes (1..24) the user consented to. */
  purposeConsents: number[];
  /** Purposes (1..24) established by legitimate interest and not objected to. */
  purposeLegitimateInterests: number[];
  purposeOneTreatment: boolean;
  /** Two letters, e.g. `AA`. */
  publisherCountryCode: string;
  /** Vendors the user consented to, ascending. */
  vendorConsents: number[];
}

/** A TC string that cannot be read; `message` says why. */
export class TcfDecodeError extends Error {
  override readonly name = 'TcfDecodeError';
}

/** Longest TC string we read: real ones are a few hundred characters, ranges keep them short. */
export const maxTcStringLength = 16_384;

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const sextets = new Map([...alphabet].map((c, i) => [c, i]));

/** Reads fixed-width unsigned integers from base64url text, most significant bit first. */
class BitReader {
  private position = 0;
  constructor(private readonly text: string) {}

  get bitsLeft(): number {
    return this.text.length * 6 - this.position;
  }

  int(width: number, field: string): number {
    if (width > this.bitsLeft) {
      throw new TcfDecodeError(
        `TC string is truncated: ${field} needs ${width} bits at bit ${this.position}`,
      );
    }
    let value = 0;
    for (let i = 0; i < width; i++) {
      const bit = this.position + i;
      const sextet = sextets.get(this.text[Math.floor(bit / 6)]!)!;
      // Multiplication, not shifts: the time fields are 36 bits wide.
      value = value * 2 + ((sextet >> (5 - (bit % 6))) & 1);
    }
    this.position += width;
    return value;
  }

  bool(field: string): boolean {
    return this.int(1, field) === 1;
  }

  /** Moves past `width` bits without reading them; returns where they start. */
  skip(width: number, field: string): number {
    if (width > this.bitsLeft) {
      throw new TcfDecodeError(
        `TC string is truncated: ${field} needs ${width} bits at bit ${this.position}`,
      );
    }
    const start = this.position;
    this.position += width;
    return start;
  }

  /** The bit at an absolute position already moved past (0 or 1). */
  bitAt(position: number): number {
    const sextet = sextets.get(this.text[Math.floor(position / 6)]!)!;
    return (sextet >> (5 - (position % 6))) & 1;
  }

  /** A bit field of `width` bits: the 1-based positions of the bits that are set. */
  set(width: number, field: string): number[] {
    const ids: number[] = [];
    for (let i = 1; i <= width; i++) if (this.bool(field)) ids.push(i);
    return ids;
  }

  letters(field: string): string {
    const a = this.int(6, field);
    const b = this.int(6, field);
    if (a > 25 || b > 25) throw new TcfDecodeError(`TC string ${field} is not two letters`);
    return String.fromCharCode(65 + a, 65 + b);
  }
}

const deciseconds = (value: number) => new Date(value * 100).toISOString();

/**
 * Decodes the core segment of a TC string. Throws {@link TcfDecodeError} for a string that is
 * not base64url, is not version 2, or ends before its fields do.
 *
 * @example
 * ```ts
 * const tc = decodeTcString('CQ...');
 * tc.purposeConsents.includes(1); // may store or access information on the device
 * ```
 */
export function decodeTcString(value: string): TcfCore {
  if (typeof value !== 'string' || value.length === 0) throw new TcfDecodeError('TC string is empty');
  if (value.length > maxTcStringLength) {
    throw new TcfDecodeError(`TC string is longer than ${maxTcStringLength} characters`);
  }
  const core = value.split('.')[0]!;
  const bad = [...core].find((c) => !sextets.has(c));
  if (bad !== undefined || core.length === 0) {
    throw new TcfDecodeError(
      bad === undefined
        ? 'TC string has no core segment'
        : `TC string is not base64url (found ${JSON.stringify(bad)})`,
    );
  }
  const r = new BitReader(core);
  const version = r.int(6, 'Version');
  if (version !== 2) throw new TcfDecodeError(`TC string version ${version} is not supported (only 2)`);
  const created = deciseconds(r.int(36, 'Created'));
  const lastUpdated = deciseconds(r.int(36, 'LastUpdated'));
  const cmpId = r.int(12, 'CmpId');
  const cmpVersion = r.int(12, 'CmpVersion');
  const consentScreen = r.int(6, 'ConsentScreen');
  const consentLanguage = r.letters('ConsentLanguage');
  const vendorListVersion = r.int(12, 'VendorListVersion');
  const policyVersion = r.int(6, 'TcfPolicyVersion');
  const isServiceSpecific = r.bool('IsServiceSpecific');
  const useNonStandardTexts = r.bool('UseNonStandardTexts');
  const specialFeatureOptIns = r.set(12, 'SpecialFeatureOptIns');
  const purposeConsents = r.set(24, 'PurposesConsent');
  const purposeLegitimateInterests = r.set(24, 'PurposesLITransparency');
  const purposeOneTreatment = r.bool('PurposeOneTreatment');
  const publisherCountryCode = r.letters('PublisherCC');
  const vendors = readVendors(r);
  const decoded: TcfCore = {
    version: 2,
    created,
    lastUpdated,
    cmpId,
    cmpVersion,
    consentScreen,
    consentLanguage,
    vendorListVersion,
    policyVersion,
    isServiceSpecific,
    useNonStandardTexts,
    specialFeatureOptIns,
    purposeConsents,
    purposeLegitimateInterests,
    purposeOneTreatment,
    publisherCountryCode,
    vendorConsents: [],
  };
  // The list of every consented vendor is built only when read: up to 65,535 ids, while the
  // consent check asks about one vendor (hasVendorConsent), answered from the bits.
  let listed: number[] | undefined;
  Object.defineProperty(decoded, 'vendorConsents', {
    enumerable: true,
    configurable: true,
    get: () => {
      listed ??= vendors.list();
      return listed;
    },
  });
  vendorSections.set(decoded, vendors);
  return decoded;
}

/** Vendor consents as the string holds them: one vendor answered without listing them all. */
interface VendorSection {
  has(vendorId: number): boolean;
  list(): number[];
}
const vendorSections = new WeakMap<TcfCore, VendorSection>();

/**
 * Whether a decoded TC string gives `vendorId` consent. Reads the one bit (or the ranges) it
 * needs, so a hostile string with every vendor set costs no more than a short one.
 */
export function hasVendorConsent(tc: TcfCore, vendorId: number): boolean {
  const section = vendorSections.get(tc);
  return section ? section.has(vendorId) : tc.vendorConsents.includes(vendorId);
}

/**
 * The vendor consent section: a bit field (kept where it is in the string, one bit read per
 * question), or a list of single ids and ranges. Listing the ids does not expand ranges one by one
 * (thousands of overlapping 1-65535 ranges fit in a long string): each marks its start and end in a
 * difference array, read once in O(MaxVendorId).
 */
function readVendors(r: BitReader): VendorSection {
  const maxVendorId = r.int(16, 'MaxVendorId');
  const inRange = (id: number) => Number.isInteger(id) && id >= 1 && id <= maxVendorId;
  if (!r.bool('IsRangeEncoding')) {
    const start = r.skip(maxVendorId, 'VendorConsents');
    const has = (id: number) => inRange(id) && r.bitAt(start + id - 1) === 1;
    return {
      has,
      list: () => {
        const ids: number[] = [];
        for (let id = 1; id <= maxVendorId; id++) if (has(id)) ids.push(id);
        return ids;
      },
    };
  }
  const entries = r.int(12, 'NumEntries');
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < entries; i++) {
    const isRange = r.bool('IsARange');
    const start = r.int(16, 'StartOrOnlyVendorId');
    const end = isRange ? r.int(16, 'EndVendorId') : start;
    if (start < 1 || end < start || end > maxVendorId) {
      throw new TcfDecodeError(`TC string vendor range ${start}-${end} is outside 1-${maxVendorId}`);
    }
    ranges.push([start, end]);
  }
  return {
    has: (id) => inRange(id) && ranges.some(([a, b]) => id >= a && id <= b),
    list: () => {
      const marks = new Int32Array(maxVendorId + 2);
      for (const [a, b] of ranges) {
        marks[a]! += 1;
        marks[b + 1]! -= 1;
      }
      const ids: number[] = [];
      let covering = 0;
      for (let id = 1; id <= maxVendorId; id++) {
        covering += marks[id]!;
        if (covering > 0) ids.push(id);
      }
      return ids;
    },
  };
}
