/**
 * The low level of reading bjson: the header's atom table, integers, strings, property keys, and
 * passing over one value without building it. `BjsonReader` (`reader.ts`) builds values on it.
 */
import {
  BjsonUnsupported,
  latin1Slice,
  TAG_ARRAY,
  TAG_DATE,
  TAG_FLOAT64,
  TAG_INT32,
  TAG_NULL,
  TAG_OBJECT,
  TAG_OBJECT_REFERENCE,
  TAG_STRING,
  TAG_TRUE,
  ucs2Slice,
  VERSION,
} from './format.js';

/** A position in bjson bytes, past the header (version and atoms) once constructed. */
export class BjsonCursor {
  pos = 0;
  private readonly atoms: string[] = [''];
  private readonly buf: Buffer;

  constructor(protected readonly bytes: Uint8Array) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes[0] !== VERSION) throw new BjsonUnsupported(`unknown bjson version ${bytes[0]}`);
    this.pos = 1;
    const count = this.leb();
    for (let i = 0; i < count; i++) this.atoms.push(this.string());
  }

  protected leb(): number {
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

  protected string(): string {
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

  protected key(): string {
    const ref = this.leb();
    if (ref & 1) return String(ref >>> 1);
    const name = this.atoms[ref >>> 1];
    if (name === undefined) throw new BjsonUnsupported('bad atom reference');
    return name;
  }

  /** Passes over one value, iteratively (a value too deep to read must still be passed). */
  protected skip(): void {
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
}
