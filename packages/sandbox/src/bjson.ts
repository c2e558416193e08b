/**
 * long-file: the codec: writer and reader of one binary format, kept side by side so they stay mirrors
 *
 * QuickJS's binary object format ("bjson", what `JS_WriteObject`/`JS_ReadObject` speak), written
 * and read on the host. Why: inside QuickJS, `JSON.parse` of a 1000-event batch costs ~10 ms and
 * `JSON.stringify` of the output ~8 ms, more than the transform itself; reading and writing this
 * binary form costs a fraction of that, and V8 does the host side of the work much faster.
 *
 * Only plain data is written (what JSON can hold). The reader accepts the tags a transform's output
 * can contain as JSON data (plus Date, which JSON turns into an ISO string) and throws
 * {@link BjsonUnsupported} for anything else. The format is QuickJS's internal one: the worker checks
 * it against the engine at start-up (a round trip) and falls back to JSON text if it differs.
 */

const VERSION = 5;
const TAG_NULL = 1;
const TAG_UNDEFINED = 2;
const TAG_FALSE = 3;
const TAG_TRUE = 4;
const TAG_INT32 = 5;
const TAG_FLOAT64 = 6;
const TAG_STRING = 7;
const TAG_OBJECT = 8;
const TAG_ARRAY = 9;
const TAG_DATE = 0x11;
const TAG_OBJECT_REFERENCE = 0x13;

const DANGEROUS_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

// Buffer's own latin1/ucs2 codecs, without the argument handling of toString()/write() around
// them (~15% of the time per short string). They are not in Node's documented API, so each one
// falls back to the documented call when missing.
type FastBuffer = Buffer & {
  latin1Slice?(this: Buffer, start: number, end: number): string;
  ucs2Slice?(this: Buffer, start: number, end: number): string;
  latin1Write?(this: Buffer, s: string, offset: number, length: number): number;
};
const proto = Buffer.prototype as FastBuffer;
const latin1Slice =
  proto.latin1Slice ??
  function (this: Buffer, start: number, end: number) {
    return this.toString('latin1', start, end);
  };
const ucs2Slice =
  proto.ucs2Slice ??
  function (this: Buffer, start: number, end: number) {
    return this.toString('utf16le', start, end);
  };
const latin1Write =
  proto.latin1Write ??
  function (this: Buffer, s: string, offset: number, length: number) {
    return this.write(s, offset, length, 'latin1');
  };
// Any UTF-16 code unit above 0xFF means the string must be written in its wide form.
const NOT_LATIN1 = /[\u0100-\uffff]/;

class Writer {
  buf: Buffer;
  pos = 0;
  private readonly f64 = new Float64Array(1);
  private readonly f64b = new Uint8Array(this.f64.buffer);

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }
  leb(n: number): void {
    this.ensure(5);
    let v = n >>> 0;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }
  float(n: number): void {
    this.ensure(8);
    this.f64[0] = n;
    this.buf.set(this.f64b, this.pos);
    this.pos += 8;
  }
  str(s: string): void {
    const len = s.length;
    if (len >= 16) {
      // Long strings: one native check and one native copy.
      if (NOT_LATIN1.test(s)) {
        this.wide(s);
        return;
      }
      this.leb(len << 1);
      this.ensure(len);
      this.pos += latin1Write.call(this.buf, s, this.pos, len);
      return;
    }
    // Short ones: Latin-1 (one byte per character) unless a character needs more, in one pass.
    this.leb(len << 1);
    this.ensure(len);
    const { buf } = this;
    const at = this.pos;
    let p = at;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) {
        this.pos = at - lebSize(len << 1);
        this.wide(s);
        return;
      }
      buf[p++] = c;
    }
    this.pos = p;
  }
  private wide(s: string): void {
    this.leb((s.length << 1) | 1);
    this.ensure(s.length * 2);
    const { buf } = this;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      buf[p++] = c & 0xff;
      buf[p++] = c >> 8;
    }
    this.pos = p;
  }
}

// The writers of the last encoding, kept for the next one (their buffers have grown to the size
// batches need); the result is always copied out into a buffer of its own.
let spare: { body: Writer; head: Writer } | undefined;

/**
 * Encodes JSON data (the result of `JSON.parse`, or objects of that shape) as QuickJS bjson.
 * `undefined` properties and functions are skipped the way `JSON.stringify` skips them.
 */
export function encodeBjson(value: unknown): Uint8Array {
  // A toJSON that encodes from inside an encoding gets writers of its own.
  const writers = spare ?? { body: new Writer(64 * 1024), head: new Writer(1024) };
  spare = undefined;
  try {
    return encodeWith(value, writers.body, writers.head);
  } finally {
    writers.body.pos = 0;
    writers.head.pos = 0;
    // Do not keep a buffer grown by one outsized batch for ever.
    if (writers.body.buf.length <= 4 * 1024 * 1024) spare = writers;
  }
}

function encodeWith(value: unknown, body: Writer, head: Writer): Uint8Array {
  const atoms = new Map<string, number>();
  const atomList: string[] = [];
  const atom = (key: string) => {
    let idx = atoms.get(key);
    if (idx === undefined) {
      atomList.push(key);
      idx = atomList.length; // index 0 is "no atom"
      atoms.set(key, idx);
    }
    body.leb(idx << 1);
  };
  const write = (v: unknown): void => {
    switch (typeof v) {
      case 'string':
        body.byte(TAG_STRING);
        body.str(v);
        return;
      case 'number':
        if (Number.isInteger(v) && v >= -2147483648 && v <= 2147483647 && !Object.is(v, -0)) {
          body.byte(TAG_INT32);
          body.leb(((v << 1) ^ (v >> 31)) >>> 0);
        } else if (Number.isFinite(v)) {
          body.byte(TAG_FLOAT64);
          body.float(v);
        } else body.byte(TAG_NULL);
        return;
      case 'boolean':
        body.byte(v ? TAG_TRUE : TAG_FALSE);
        return;
      case 'object': {
        if (v === null) {
          body.byte(TAG_NULL);
          return;
        }
        if (Array.isArray(v)) {
          body.byte(TAG_ARRAY);
          body.leb(v.length);
          for (const item of v) {
            if (item === undefined || typeof item === 'function' || typeof item === 'symbol')
              body.byte(TAG_NULL);
            else write(item);
          }
          return;
        }
        const toJSON = (v as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function') {
          write((v as { toJSON(): unknown }).toJSON());
          return;
        }
        const obj = v as Record<string, unknown>;
        const keys = Object.keys(obj);
        let count = 0;
        for (let i = 0; i < keys.length; i++) {
          const x = obj[keys[i]!];
          if (x !== undefined && typeof x !== 'function' && typeof x !== 'symbol') count++;
        }
        body.byte(TAG_OBJECT);
        body.leb(count);
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i]!;
          const x = obj[k];
          if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
          atom(k);
          write(x);
        }
        return;
      }
      case 'bigint':
        throw new TypeError('Do not know how to serialize a BigInt');
      default:
        body.byte(TAG_NULL);
    }
  };
  write(value);
  head.byte(VERSION);
  head.leb(atomList.length);
  for (const a of atomList) head.str(a);
  const out = new Uint8Array(head.pos + body.pos);
  out.set(head.buf.subarray(0, head.pos), 0);
  out.set(body.buf.subarray(0, body.pos), head.pos);
  return out;
}

function lebSize(n: number): number {
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
  constructor() {
    super(`output nests objects or arrays deeper than ${maxValueDepth} levels`);
  }
}

/** The guest output held a value JSON cannot represent (or a format this reader does not know). */
export class BjsonUnsupported extends Error {}

/** A reader not told to expect object references met one: read again with `refs: true`. */
export class BjsonReferences extends BjsonUnsupported {}

export interface BjsonReaderOptions {
  /**
   * Whether the bytes may hold object references (QuickJS writes an object it already wrote as a
   * reference to it). Without it, a reference throws {@link BjsonReferences} (read again with
   * it); with it, each value is measured before it is built, which costs a second pass.
   */
  refs?: boolean;
  /**
   * Upper bound, in bytes, on what the references may add when written out (a small output could
   * otherwise stand for a huge one). Default 64 MiB.
   */
  expandLimit?: number;
}

/**
 * Reads bjson produced by the guest into plain host data with JSON semantics: no prototype keys
 * (`__proto__`, `constructor`, `prototype` are dropped), `undefined` properties omitted, non-finite
 * numbers become `null`, Dates become ISO strings, and an object written twice (a reference) is
 * read twice, into two independent copies, as `JSON.stringify` would write it twice; a reference
 * to an object still being read (a cycle) is refused.
 */
export class BjsonReader {
  pos = 0;
  private readonly atoms: string[] = [''];
  private readonly view: DataView;
  private readonly buf: Buffer;
  private readonly refs: boolean;
  private readonly expandLimit: number;
  // Objects in the order QuickJS numbers them (pre-order), for references: where each one starts
  // and how many bytes it takes with its own references written out (-1 while being measured).
  private readonly objStart: number[] = [];
  private readonly objSize: number[] = [];
  private lastObj = 0;
  private expanded = 0;
  // Objects and arrays open around the value being read or measured.
  private level = 0;
  private sawRef = false;

  constructor(
    private readonly bytes: Uint8Array,
    options: BjsonReaderOptions = {},
  ) {
    this.refs = options.refs ?? false;
    this.expandLimit = options.expandLimit ?? 64 * 1024 * 1024;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes[0] !== VERSION) throw new BjsonUnsupported(`unknown bjson version ${bytes[0]}`);
    this.pos = 1;
    const count = this.leb();
    for (let i = 0; i < count; i++) this.atoms.push(this.string());
  }

  private leb(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.bytes[this.pos++];
      if (b === undefined) throw new BjsonUnsupported('truncated');
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
      shift += 7;
      if (shift > 28) throw new BjsonUnsupported('bad integer');
    }
  }

  private string(): string {
    const header = this.leb();
    const len = header >>> 1;
    const start = this.pos;
    if ((header & 1) === 0) {
      this.pos += len;
      if (this.pos > this.bytes.length) throw new BjsonUnsupported('truncated');
      if (len < 8) {
        // Below ~8 characters building the string in JS beats the native call.
        const { bytes } = this;
        let s = '';
        for (let i = start; i < start + len; i++) s += String.fromCharCode(bytes[i]!);
        return s;
      }
      return latin1Slice.call(this.buf, start, start + len);
    }
    this.pos += len * 2;
    if (this.pos > this.bytes.length) throw new BjsonUnsupported('truncated');
    return ucs2Slice.call(this.buf, start, start + len * 2);
  }

  private key(): string {
    const ref = this.leb();
    if (ref & 1) return String(ref >>> 1);
    const name = this.atoms[ref >>> 1];
    if (name === undefined) throw new BjsonUnsupported('bad atom reference');
    return name;
  }

  /** Numbers an object whose tag is at `at` (QuickJS numbers objects in the order it writes them). */
  private open(at: number): number {
    if (at <= this.lastObj) throw new BjsonUnsupported('object measured twice');
    this.lastObj = at;
    this.objSize.push(-1);
    return this.objStart.push(at) - 1;
  }

  /**
   * Walks one value without building it and returns its size in bytes with references written
   * out; numbers the objects for references and refuses cycles, tags {@link value} cannot read,
   * and references that expand past the limit.
   */
  private measure(): number {
    const at = this.pos;
    const tag = this.bytes[this.pos++];
    switch (tag) {
      case TAG_NULL:
      case TAG_UNDEFINED:
      case TAG_FALSE:
      case TAG_TRUE:
        return 1;
      case TAG_INT32:
        this.leb();
        return this.pos - at;
      case TAG_FLOAT64:
        this.pos += 8;
        if (this.pos > this.bytes.length) throw new BjsonUnsupported('truncated');
        return 9;
      case TAG_STRING: {
        const header = this.leb();
        this.pos += (header & 1) === 0 ? header >>> 1 : (header >>> 1) * 2;
        if (this.pos > this.bytes.length) throw new BjsonUnsupported('truncated');
        return this.pos - at;
      }
      case TAG_OBJECT: {
        const idx = this.open(at);
        const count = this.leb();
        let size = this.pos - at;
        this.enter();
        for (let i = 0; i < count; i++) {
          const k = this.pos;
          this.key();
          size += this.pos - k + this.measure();
        }
        this.level--;
        this.objSize[idx] = size;
        return size;
      }
      case TAG_ARRAY: {
        const idx = this.open(at);
        const len = this.leb();
        let size = this.pos - at;
        this.enter();
        for (let i = 0; i < len; i++) size += this.measure();
        this.level--;
        this.objSize[idx] = size;
        return size;
      }
      case TAG_DATE: {
        const idx = this.open(at);
        const size = 1 + this.measure();
        this.objSize[idx] = size;
        return size;
      }
      case TAG_OBJECT_REFERENCE: {
        const size = this.objSize[this.leb()];
        if (size === undefined || size < 0)
          throw new BjsonUnsupported('circular or unknown object reference');
        this.sawRef = true;
        this.expanded += size;
        if (this.expanded > this.expandLimit) {
          throw new BjsonUnsupported(`object references expand past ${this.expandLimit} bytes`);
        }
        return size;
      }
      default:
        throw new BjsonUnsupported(`output holds a value that is not JSON data (bjson tag ${tag})`);
    }
  }

  /**
   * Checks that the whole buffer is one value this reader can decode, and whether it holds object
   * references (pass that on as {@link BjsonReaderOptions.refs}), without building anything.
   */
  scan(): { ok: boolean; refs: boolean } {
    try {
      this.measure();
      return { ok: this.pos === this.bytes.length, refs: this.sawRef };
    } catch (err) {
      if (err instanceof BjsonUnsupported || err instanceof RangeError) return { ok: false, refs: false };
      throw err;
    }
  }

  /** Reads one whole value (measured first when it may hold references). */
  read(): unknown {
    if (this.refs) {
      const at = this.pos;
      this.measure();
      this.pos = at;
    }
    return this.value();
  }

  /**
   * Reads one value. `undefined` is returned for an `undefined` slot (callers decide JSON's rule).
   * A reference is only followed to an object {@link measure} has already walked.
   */
  value(): unknown {
    const tag = this.bytes[this.pos++];
    switch (tag) {
      case TAG_NULL:
        return null;
      case TAG_UNDEFINED:
        return undefined;
      case TAG_FALSE:
        return false;
      case TAG_TRUE:
        return true;
      case TAG_INT32: {
        const z = this.leb();
        return (z >>> 1) ^ -(z & 1);
      }
      case TAG_FLOAT64: {
        const n = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        return Number.isFinite(n) ? n : null;
      }
      case TAG_STRING:
        return this.string();
      case TAG_OBJECT: {
        const count = this.leb();
        const obj: Record<string, unknown> = {};
        this.enter();
        for (let i = 0; i < count; i++) {
          const k = this.key();
          const v = this.value();
          if (v !== undefined && !DANGEROUS_KEYS.has(k)) obj[k] = v;
        }
        this.level--;
        return obj;
      }
      case TAG_ARRAY: {
        const len = this.leb();
        const arr: unknown[] = new Array(len);
        this.enter();
        for (let i = 0; i < len; i++) {
          const v = this.value();
          arr[i] = v === undefined ? null : v;
        }
        this.level--;
        return arr;
      }
      case TAG_DATE: {
        const t = this.value();
        const d = new Date(typeof t === 'number' ? t : Number.NaN);
        return Number.isNaN(d.getTime()) ? null : d.toISOString();
      }
      case TAG_OBJECT_REFERENCE: {
        const idx = this.leb();
        if (!this.refs) throw new BjsonReferences('the bytes hold object references');
        if (!((this.objSize[idx] ?? -1) >= 0)) throw new BjsonUnsupported('unexpected object reference');
        const back = this.pos;
        this.pos = this.objStart[idx]!;
        const v = this.value();
        this.pos = back;
        return v;
      }
      default:
        throw new BjsonUnsupported(`output holds a value that is not JSON data (bjson tag ${tag})`);
    }
  }

  /** One more object or array open; throws {@link BjsonTooDeep} past the limit. */
  private enter(): void {
    if (++this.level > maxValueDepth + WRAPPER_LEVELS) throw new BjsonTooDeep();
  }

  /**
   * Reads the value at `start` as {@link value} does, or, when it nests too deep, passes over it
   * without recursion and returns {@link BjsonTooDeep}.
   */
  private valueOrDeep(start: number): unknown {
    try {
      return this.value();
    } catch (err) {
      if (!(err instanceof BjsonTooDeep)) throw err;
      this.level = 0;
      this.pos = start;
      this.skip();
      return err;
    }
  }

  /** Passes over one value, iteratively (a value too deep to read must still be passed). */
  private skip(): void {
    const left = [1];
    const inObject = [false];
    while (left.length > 0) {
      const top = left.length - 1;
      if (left[top] === 0) {
        left.pop();
        inObject.pop();
        continue;
      }
      left[top]!--;
      if (inObject[top]) this.key();
      const tag = this.bytes[this.pos++];
      if (tag === TAG_OBJECT || tag === TAG_ARRAY || tag === TAG_DATE) {
        left.push(tag === TAG_DATE ? 1 : this.leb());
        inObject.push(tag === TAG_OBJECT);
      } else if (tag === TAG_INT32 || tag === TAG_OBJECT_REFERENCE) this.leb();
      else if (tag === TAG_FLOAT64) this.pos += 8;
      else if (tag === TAG_STRING) {
        const header = this.leb();
        this.pos += (header & 1) === 0 ? header >>> 1 : (header >>> 1) * 2;
      } else if (tag === undefined || tag < TAG_NULL || tag > TAG_TRUE) {
        throw new BjsonUnsupported(`output holds a value that is not JSON data (bjson tag ${tag})`);
      }
      if (this.pos > this.bytes.length) throw new BjsonUnsupported('truncated');
    }
  }

  /** Reads an array header (numbering the array for references when they may occur). */
  private arrayHeader(what: string): number {
    const at = this.pos;
    if (this.bytes[this.pos++] !== TAG_ARRAY) throw new BjsonUnsupported(`expected ${what}`);
    if (this.refs) this.open(at);
    return this.leb();
  }

  /**
   * Reads the batch fast path's result, `[inputIndexOfEachOutput, outputs]`, into one list of
   * outputs per input (`count` inputs; an input with no output was filtered). An input whose outputs
   * take more than `outputLimit` bytes is reported by size instead, as {@link entries} does.
   */
  batch(
    count: number,
    outputLimit: number,
  ): Array<{ o: unknown[] } | { tooLarge: number } | { tooDeep: true }> {
    if (this.arrayHeader('the batch result') !== 2) throw new BjsonUnsupported('expected the batch result');
    const n = this.arrayHeader('input indices');
    const sources = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      const src = this.value();
      if (typeof src !== 'number' || !Number.isInteger(src) || src < 0 || src >= count) {
        throw new BjsonUnsupported('bad input index in the batch result');
      }
      sources[k] = src;
    }
    if (this.arrayHeader('the outputs') !== n) throw new BjsonUnsupported('bad batch outputs');
    const sizes = new Array<number>(count).fill(0);
    const lengths = new Array<number>(count).fill(0);
    const groups: unknown[][] = new Array(count);
    const deep: boolean[] = [];
    if (this.refs) {
      // Measure everything first, then build only what is within the limit.
      const starts = new Array<number>(n);
      for (let k = 0; k < n; k++) {
        starts[k] = this.pos;
        sizes[sources[k]!]! += this.measure();
        lengths[sources[k]!]!++;
      }
      const end = this.pos;
      for (let k = 0; k < n; k++) {
        const src = sources[k]!;
        if (sizes[src]! + 4 + lebSize(lengths[src]!) > outputLimit) continue;
        this.pos = starts[k]!;
        const v = this.value();
        const group = groups[src];
        if (group === undefined) groups[src] = [v === undefined ? null : v];
        else group.push(v === undefined ? null : v);
      }
      this.pos = end;
    } else {
      for (let k = 0; k < n; k++) {
        const start = this.pos;
        const v = this.valueOrDeep(start);
        const src = sources[k]!;
        if (v instanceof BjsonTooDeep) deep[src] = true;
        sizes[src]! += this.pos - start;
        lengths[src]!++;
        const group = groups[src];
        if (group === undefined) groups[src] = [v === undefined ? null : v];
        else group.push(v === undefined ? null : v);
      }
    }
    const out: Array<{ o: unknown[] } | { tooLarge: number } | { tooDeep: true }> = new Array(count);
    for (let i = 0; i < count; i++) {
      if (deep[i]) {
        out[i] = { tooDeep: true };
        continue;
      }
      if (lengths[i] === 0) {
        out[i] = { o: [] };
        continue;
      }
      // The size the same outputs have per event, as the entry `{ o: [...] }`.
      const size = sizes[i]! + 4 + lebSize(lengths[i]!);
      out[i] = size > outputLimit ? { tooLarge: size } : { o: groups[i]! };
    }
    return out;
  }

  /**
   * Reads the transform harness's results: an array with one `{ o } | { e }` entry per event. An
   * entry whose encoded size exceeds `outputLimit` is replaced by `{ tooLarge: size }`.
   */
  entries(outputLimit: number): Array<{ o?: unknown; e?: unknown; tooLarge?: number; tooDeep?: true }> {
    const len = this.arrayHeader('the results array');
    const out: Array<{ o?: unknown; e?: unknown; tooLarge?: number; tooDeep?: true }> = new Array(len);
    for (let i = 0; i < len; i++) {
      const start = this.pos;
      if (this.refs) {
        const size = this.measure();
        if (size > outputLimit) {
          out[i] = { tooLarge: size };
          continue;
        }
        const end = this.pos;
        this.pos = start;
        out[i] = (this.value() as { o?: unknown; e?: unknown } | null) ?? {};
        this.pos = end;
        continue;
      }
      const entry = this.valueOrDeep(start) as { o?: unknown; e?: unknown } | BjsonTooDeep | null;
      if (entry instanceof BjsonTooDeep) {
        out[i] = { tooDeep: true };
        continue;
      }
      const size = this.pos - start;
      out[i] = size > outputLimit ? { tooLarge: size } : (entry ?? {});
    }
    return out;
  }
}
