/**
 * The bjson writer: host data (what JSON can hold) into QuickJS's binary object format, for the
 * events a transform is given. Format and purpose: `../bjson.ts`.
 */
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
 * `undefined` properties and functions are skipped the way `JSON.stringify` skips them. Objects and
 * arrays nested more than `maxDepth` levels throw {@link BjsonTooDeep} (`input`): the writer
 * recurses, and that bound is what keeps a hostile value from exhausting the host's stack.
 */
export function encodeBjson(value: unknown, maxDepth = Number.POSITIVE_INFINITY): Uint8Array {
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

function encodeWith(value: unknown, body: Writer, head: Writer, maxDepth: number): Uint8Array {
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
          if (++depth > maxDepth) throw new BjsonTooDeep('input');
          body.byte(TAG_ARRAY);
          body.leb(v.length);
          for (const item of v) {
            if (item === undefined || typeof item === 'function' || typeof item === 'symbol')
              body.byte(TAG_NULL);
            else write(item);
          }
          depth--;
          return;
        }
        // An object with a toJSON counts as a level too: a chain of them must not recurse unbounded.
        if (++depth > maxDepth) throw new BjsonTooDeep('input');
        const toJSON = (v as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function') {
          write((v as { toJSON(): unknown }).toJSON());
          depth--;
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
        depth--;
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
