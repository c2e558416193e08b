/**
 * The bjson writer: host data (what JSON can hold) into QuickJS's binary object format, for the
 * events a transform is given. Format and purpose: `../bjson.ts`.
 */
import { types } from 'node:util';
import {
  BjsonTooDeep,
  latin1Write,
  lebSize,
  NOT_LATIN1,
  TAG_ARRAY,
  TAG_FALSE,
  TAG_FLOAT64,
  TAG_INT32,
  TAG_NULL,
  TAG_OBJECT,
  TAG_STRING,
  TAG_TRUE,
  VERSION,
} from './format.js';

/** What `JSON.stringify` writes for a Number, String, Boolean or BigInt object: the primitive. */
function unbox(v: object): unknown {
  // Unary plus is ToNumber, as JSON.stringify's: Number() would turn a BigInt its valueOf answers
  // into a number instead of throwing.
  if (types.isNumberObject(v)) return +(v as number);
  if (types.isStringObject(v)) return String(v);
  if (types.isBooleanObject(v)) return Boolean.prototype.valueOf.call(v);
  return BigInt.prototype.valueOf.call(v);
}

/**
 * Whether `v` is a Number, String, Boolean or BigInt object. Plain objects skip the (native) check.
 * A Proxy's getPrototypeOf trap, which JSON.stringify never calls, may throw: a Proxy is no boxed
 * primitive, so the throw only says that.
 */
function isBoxed(v: object): boolean {
  try {
    if (Object.getPrototypeOf(v) === Object.prototype) return false;
  } catch {
    return false;
  }
  return types.isBoxedPrimitive(v);
}

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
  /** Writes `n` at `at`, where one byte was kept for it, moving what follows if it needs more. */
  lebAt(at: number, n: number): void {
    if (n < 0x80) {
      this.buf[at] = n;
      return;
    }
    const extra = lebSize(n) - 1;
    this.ensure(extra);
    this.buf.copyWithin(at + 1 + extra, at + 1, this.pos);
    const end = this.pos + extra;
    this.pos = at;
    this.leb(n);
    this.pos = end;
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
 * Encodes a value as QuickJS bjson standing for what `JSON.stringify` makes of it: the guest reads
 * the value `JSON.parse(JSON.stringify(value))` would give (toJSON called once, with its key;
 * `undefined`, functions and symbols left out of objects and `null` in arrays; NaN, ±Infinity
 * `null`, -0 `0`; boxed primitives unboxed; each property read once; a BigInt throws the TypeError
 * `JSON.stringify` throws). Objects and arrays nested more than `maxDepth` levels (an object with a
 * toJSON counts as one, what it returns one further down) throw {@link BjsonTooDeep} (`input`): the
 * writer recurses, and that bound is what keeps a hostile value (or a cycle) from exhausting the
 * host's stack.
 */
export function encodeBjson(value: unknown, maxDepth = Number.POSITIVE_INFINITY): Uint8Array {
  // Where JSON.stringify answers undefined (no text at all), null: what an array holds there.
  return encodeBjsonOrUndefined(value, maxDepth) ?? encodeBjsonOrUndefined(null)!;
}

/**
 * {@link encodeBjson}, but `undefined` where `JSON.stringify` answers `undefined`: the value, or
 * what its toJSON answers (called once), is `undefined`, a function or a symbol. There is then no
 * JSON text, so no value for the guest to read, rather than `null`.
 */
export function encodeBjsonOrUndefined(
  value: unknown,
  maxDepth = Number.POSITIVE_INFINITY,
): Uint8Array | undefined {
  // A toJSON that encodes from inside an encoding gets writers of its own.
  const writers = spare ?? { body: new Writer(64 * 1024), head: new Writer(1024) };
  spare = undefined;
  try {
    return encodeWith(value, writers.body, writers.head, maxDepth);
  } finally {
    writers.body.pos = 0;
    writers.head.pos = 0;
    // Do not keep a buffer grown by one outsized batch for ever.
    if (writers.body.buf.length <= 4 * 1024 * 1024) spare = writers;
  }
}

function encodeWith(value: unknown, body: Writer, head: Writer, maxDepth: number): Uint8Array | undefined {
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
  // Objects and arrays open around the value being written.
  let depth = 0;
  // Whether the last resolve() called a toJSON (what it returned then sits one level down).
  let viaToJSON = false;

  const resolve = (v: unknown, key: string | number): unknown => {
    viaToJSON = false;
    if (v === null || (typeof v !== 'object' && typeof v !== 'function' && typeof v !== 'bigint')) return v;
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON !== 'function') return v;
    viaToJSON = true;
    return toJSON.call(v, String(key));
  };
  const writeResolved = (v: unknown, hop: boolean): void => {
    if (!hop) {
      write(v);
      return;
    }
    // An object with a toJSON counts as a level too.
    if (++depth > maxDepth) throw new BjsonTooDeep('input');
    write(v);
    depth--;
  };
  const write = (v: unknown): void => {
    switch (typeof v) {
      case 'string':
        body.byte(TAG_STRING);
        body.str(v);
        return;
      case 'number':
        if (Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) {
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
      case 'object':
        if (v === null) {
          body.byte(TAG_NULL);
          return;
        }
        if (++depth > maxDepth) throw new BjsonTooDeep('input');
        if (Array.isArray(v)) writeArray(v);
        else if (isBoxed(v)) write(unbox(v));
        else writeObject(v as Record<string, unknown>);
        depth--;
        return;
      case 'bigint':
        // JSON.stringify's TypeError. Not by asking it about `v`: the host may have given BigInt
        // a toJSON, which JSON.stringify would call here although this BigInt is what a toJSON
        // answered (called once per value), and the value would be written as nothing.
        throw new TypeError('Do not know how to serialize a BigInt');
      default:
        body.byte(TAG_NULL);
    }
  };
  const writeArray = (arr: unknown[]): void => {
    const len = arr.length;
    body.byte(TAG_ARRAY);
    body.leb(len);
    for (let i = 0; i < len; i++) {
      const x = resolve(arr[i], i);
      if (x === undefined || typeof x === 'function' || typeof x === 'symbol') body.byte(TAG_NULL);
      else writeResolved(x, viaToJSON);
    }
  };
  const writeObject = (obj: Record<string, unknown>): void => {
    const keys = Object.keys(obj);
    body.byte(TAG_OBJECT);
    // How many properties are kept is known once each was read (once) and its toJSON answered:
    // the count is written after them, into the byte kept for it.
    const countAt = body.pos;
    body.byte(0);
    let count = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const x = resolve(obj[k], k);
      if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
      count++;
      atom(k);
      writeResolved(x, viaToJSON);
    }
    body.lebAt(countAt, count);
  };
  const root = resolve(value, '');
  if (root === undefined || typeof root === 'function' || typeof root === 'symbol') return undefined;
  writeResolved(root, viaToJSON);
  head.byte(VERSION);
  head.leb(atomList.length);
  for (const a of atomList) head.str(a);
  const out = new Uint8Array(head.pos + body.pos);
  out.set(head.buf.subarray(0, head.pos), 0);
  out.set(body.buf.subarray(0, body.pos), head.pos);
  return out;
}
