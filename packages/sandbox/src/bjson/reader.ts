/**
 * The bjson reader: a transform's or send()'s output, written by QuickJS, into plain host data,
 * measured for object references and held to {@link maxValueDepth}. Format and purpose: `../bjson.ts`.
 */
import { BjsonCursor } from './cursor.js';
import {
  BjsonReferences,
  BjsonTooDeep,
  BjsonUnsupported,
  lebSize,
  maxValueDepth,
  TAG_ARRAY,
  TAG_DATE,
  TAG_FALSE,
  TAG_FLOAT64,
  TAG_INT32,
  TAG_NULL,
  TAG_OBJECT,
  TAG_OBJECT_REFERENCE,
  TAG_STRING,
  TAG_TRUE,
  TAG_UNDEFINED,
  WRAPPER_LEVELS,
} from './format.js';

const DANGEROUS_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

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
export class BjsonReader extends BjsonCursor {
  private readonly view: DataView;
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

  constructor(bytes: Uint8Array, options: BjsonReaderOptions = {}) {
    super(bytes);
    this.refs = options.refs ?? false;
    this.expandLimit = options.expandLimit ?? 64 * 1024 * 1024;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
