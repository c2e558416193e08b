/**
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

const DANGEROUS_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
// Any UTF-16 code unit above 0xFF means the string must be written in its wide form.
const NOT_LATIN1 = /[\u0100-\uffff]/;

class Writer {
  buf = new Uint8Array(64 * 1024);
  pos = 0;
  private readonly f64 = new Float64Array(1);
  private readonly f64b = new Uint8Array(this.f64.buffer);

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
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
    if (!NOT_LATIN1.test(s)) {
      this.leb(s.length << 1);
      this.ensure(s.length);
      const { buf } = this;
      let p = this.pos;
      for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
      this.pos = p;
    } else {
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
}

/**
 * Encodes JSON data (the result of `JSON.parse`, or objects of that shape) as QuickJS bjson.
 * `undefined` properties and functions are skipped the way `JSON.stringify` skips them.
 */
export function encodeBjson(value: unknown): Uint8Array {
  const body = new Writer();
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
        const keys = Object.keys(obj).filter((k) => {
          const x = obj[k];
          return x !== undefined && typeof x !== 'function' && typeof x !== 'symbol';
        });
        body.byte(TAG_OBJECT);
        body.leb(keys.length);
        for (const k of keys) {
          atom(k);
          write(obj[k]);
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
  const head = new Writer();
  head.byte(VERSION);
  head.leb(atomList.length);
  for (const a of atomList) head.str(a);
  const out = new Uint8Array(head.pos + body.pos);
  out.set(head.buf.subarray(0, head.pos), 0);
  out.set(body.buf.subarray(0, body.pos), head.pos);
  return out;
}

/** The guest output held a value JSON cannot represent (or a format this reader does not know). */
export class BjsonUnsupported extends Error {}

/**
 * Reads bjson produced by the guest into plain host data with JSON semantics: no prototype keys
 * (`__proto__`, `constructor`, `prototype` are dropped), `undefined` properties omitted, non-finite
 * numbers become `null`, Dates become ISO strings.
 */
export class BjsonReader {
  pos = 0;
  private readonly atoms: string[] = [''];
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes[0] !== VERSION) throw new BjsonUnsupported(`unknown bjson version ${bytes[0]}`);
    this.pos = 1;
    const count = this.leb();
    for (let i = 0; i < count; i++) this.atoms.push(this.string());
  }

  private leb(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.bytes[this.pos++]!;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
      shift += 7;
      if (shift > 28) throw new BjsonUnsupported('bad integer');
    }
  }

  private string(): string {
    const header = this.leb();
    const len = header >>> 1;
    const { bytes } = this;
    const start = this.pos;
    if ((header & 1) === 0) {
      this.pos += len;
      if (len < 32) {
        let s = '';
        for (let i = start; i < start + len; i++) s += String.fromCharCode(bytes[i]!);
        return s;
      }
      return Buffer.from(bytes.buffer, bytes.byteOffset + start, len).toString('latin1');
    }
    this.pos += len * 2;
    return Buffer.from(bytes.buffer, bytes.byteOffset + start, len * 2).toString('utf16le');
  }

  private key(): string {
    const ref = this.leb();
    if (ref & 1) return String(ref >>> 1);
    const name = this.atoms[ref >>> 1];
    if (name === undefined) throw new BjsonUnsupported('bad atom reference');
    return name;
  }

  /** Reads one value. `undefined` is returned for an `undefined` slot (callers decide JSON's rule). */
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
        for (let i = 0; i < count; i++) {
          const k = this.key();
          const v = this.value();
          if (v !== undefined && !DANGEROUS_KEYS.has(k)) obj[k] = v;
        }
        return obj;
      }
      case TAG_ARRAY: {
        const len = this.leb();
        const arr: unknown[] = new Array(len);
        for (let i = 0; i < len; i++) {
          const v = this.value();
          arr[i] = v === undefined ? null : v;
        }
        return arr;
      }
      case TAG_DATE: {
        const t = this.value();
        const d = new Date(typeof t === 'number' ? t : Number.NaN);
        return Number.isNaN(d.getTime()) ? null : d.toISOString();
      }
      default:
        throw new BjsonUnsupported(`output holds a value that is not JSON data (bjson tag ${tag})`);
    }
  }

  /**
   * Reads the transform harness's results: an array with one `{ o } | { e }` entry per event. An
   * entry whose encoded size exceeds `outputLimit` is replaced by `{ tooLarge: size }`.
   */
  entries(outputLimit: number): Array<{ o?: unknown; e?: unknown; tooLarge?: number }> {
    if (this.bytes[this.pos++] !== TAG_ARRAY) throw new BjsonUnsupported('expected the results array');
    const len = this.leb();
    const out: Array<{ o?: unknown; e?: unknown; tooLarge?: number }> = new Array(len);
    for (let i = 0; i < len; i++) {
      const start = this.pos;
      const entry = this.value() as { o?: unknown; e?: unknown } | null;
      const size = this.pos - start;
      out[i] = size > outputLimit ? { tooLarge: size } : (entry ?? {});
    }
    return out;
  }
}
