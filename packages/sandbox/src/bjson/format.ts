/**
 * What the writer and the reader of QuickJS's binary object format share: its tags, Buffer's fast
 * string codecs, the depth limit on values read from the guest, and the reader's errors. The codec
 * itself is `writer.ts` (host to guest) and `cursor.ts` + `reader.ts` (guest to host); why it
 * exists: `../bjson.ts`.
 */

export const VERSION = 5;
export const TAG_NULL = 1;
export const TAG_UNDEFINED = 2;
export const TAG_FALSE = 3;
export const TAG_TRUE = 4;
export const TAG_INT32 = 5;
export const TAG_FLOAT64 = 6;
export const TAG_STRING = 7;
export const TAG_OBJECT = 8;
export const TAG_ARRAY = 9;
export const TAG_DATE = 0x11;
export const TAG_OBJECT_REFERENCE = 0x13;

// Buffer's own latin1/ucs2 codecs, without the argument handling of toString()/write() around
// them (~15% of the time per short string). They are not in Node's documented API, so each one
// falls back to the documented call when missing.
type FastBuffer = Buffer & {
  latin1Slice?(this: Buffer, start: number, end: number): string;
  ucs2Slice?(this: Buffer, start: number, end: number): string;
  latin1Write?(this: Buffer, s: string, offset: number, length: number): number;
};
const proto = Buffer.prototype as FastBuffer;
export const latin1Slice =
  proto.latin1Slice ??
  function (this: Buffer, start: number, end: number) {
    return this.toString('latin1', start, end);
  };
export const ucs2Slice =
  proto.ucs2Slice ??
  function (this: Buffer, start: number, end: number) {
    return this.toString('utf16le', start, end);
  };
export const latin1Write =
  proto.latin1Write ??
  function (this: Buffer, s: string, offset: number, length: number) {
    return this.write(s, offset, length, 'latin1');
  };
// Any UTF-16 code unit above 0xFF means the string must be written in its wide form.
export const NOT_LATIN1 = /[\u0100-\uffff]/;

/** How many bytes `n` takes as the unsigned LEB128 integers of the format. */
export function lebSize(n: number): number {
  let size = 1;
  for (let v = n >>> 7; v > 0; v >>>= 7) size++;
  return size;
}

/**
 * How deep objects and arrays may nest in a value read from the guest (as `@openpipes/core`'s
 * `maxJsonDepth` for events), counted from the output itself; the few levels of the result
 * wrapper (`{ o: [...] }`) are not counted. A deeper value fails its call's output with
 * INVALID_OUTPUT rather than overflowing the host's stack while it is read.
 */
export const maxValueDepth = 512;
export const WRAPPER_LEVELS = 4;

/** A value nests objects and arrays deeper than {@link maxValueDepth}. */
export class BjsonTooDeep extends Error {
  /** `what`: the guest's output (read) or the input handed to it (written). */
  constructor(what: 'output' | 'input' = 'output') {
    super(`${what} nests objects or arrays deeper than ${maxValueDepth} levels`);
  }
}

/** The guest output held a value JSON cannot represent (or a format this reader does not know). */
export class BjsonUnsupported extends Error {}

/** A reader not told to expect object references met one: read again with `refs: true`. */
export class BjsonReferences extends BjsonUnsupported {}
