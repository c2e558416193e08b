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
 *
 * One module per concern, in `bjson/`: `format.ts` (tags, limits, errors the two sides share),
 * `writer.ts` (encoding), `cursor.ts` (integers, strings, keys, passing over a value without
 * recursion) and `reader.ts` (decoding, references, the harness's result layouts). Change the
 * writer and the reader together: they are mirrors of one format.
 */
export {
  BjsonReferences,
  BjsonTooDeep,
  BjsonUnsupported,
  maxValueDepth,
  WRAPPER_LEVELS,
} from './bjson/format.js';
export { BjsonReader, type BjsonReaderOptions } from './bjson/reader.js';
export { encodeBjson, encodeBjsonOrUndefined } from './bjson/writer.js';
