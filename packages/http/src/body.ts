/**
 * Reading request bodies within a size limit, and checking their media type. A body over the limit
 * is refused as soon as its declared length or the bytes read so far pass the limit: it is never
 * buffered whole. The readers take a {@link BodySource}: a fetch `Request` ({@link fetchBodySource}),
 * or a node `IncomingMessage` read directly (node-bridge.ts), so both answer alike.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { PipesError } from '@openpipes/core';

/** One read of a body: a chunk, or the end. */
export type BodyChunk = { done: true; value?: undefined } | { done: false; value: Uint8Array };

/**
 * Reads a body chunk by chunk (a `ReadableStreamDefaultReader` is one). `read` rejects when the
 * client goes away mid-body. After `cancel` the rest of the body is discarded, not handed over, and
 * the connection stays usable for the answer.
 */
export interface BodyReader {
  read(): Promise<BodyChunk>;
  cancel(): Promise<void>;
}

/** A request as the body readers see it: its headers, and its body's chunks. */
export interface BodySource {
  /** A header's value as fetch's `Headers.get` gives it (repeated headers joined with `, `), or null. */
  header(name: string): string | null;
  /** Starts reading the body; null when the request has none. Called at most once. */
  reader(): BodyReader | null;
}

/** A fetch `Request` as a {@link BodySource}. */
export function fetchBodySource(request: Request): BodySource {
  return {
    header: (name) => request.headers.get(name),
    reader: () => (request.body === null ? null : request.body.getReader()),
  };
}

/**
 * Reads the body of `request`, at most `maxBytes` of it. Throws `PAYLOAD_TOO_LARGE` when the body
 * is (or declares to be) larger, after cancelling the rest of the stream.
 */
export function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  return readBodyOf(fetchBodySource(request), maxBytes);
}

/** {@link readBody} of any {@link BodySource}. */
export async function readBodyOf(source: BodySource, maxBytes: number): Promise<Uint8Array> {
  const declared = source.header('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const reader = source.reader();
  if (reader === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Cancelling tells the adapter to discard the rest instead of handing it to us.
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  return Buffer.concat(chunks, size);
}

/** The content codings a collect route takes (`Content-Encoding`); `identity` means none. */
export const acceptedEncodings = ['gzip', 'x-gzip', 'deflate', 'br'] as const;
type Encoding = (typeof acceptedEncodings)[number];

/**
 * Reads a collect body, decompressing it when `Content-Encoding` says `gzip`, `deflate` (zlib or,
 * as some clients send it, raw) or `br`. `maxBytes` bounds both the bytes received and the bytes
 * they expand to, counted while decompressing: a small bomb is stopped as soon as its output passes
 * the limit (`PAYLOAD_TOO_LARGE`), never held whole. A corrupt or truncated stream is a 400
 * `VALIDATION_FAILED`; an encoding other than those an `UNSUPPORTED_MEDIA_TYPE`.
 *
 * Takes a {@link BodySource}: a fetch `Request` ({@link fetchBodySource}) or a node request.
 */
export async function readCollectBodyOf(source: BodySource, maxBytes: number): Promise<Uint8Array> {
  const encoding = contentEncoding(source.header('content-encoding'));
  if (encoding === null) return readBodyOf(source, maxBytes);
  const declared = source.header('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const opened = source.reader();
  if (opened === null) return new Uint8Array(0);
  const reader: BodyReader = opened;
  const read = await reader.read();
  if (read.done) return new Uint8Array(0);
  const first = read.value;
  const chunks: Buffer[] = [];
  let size = 0;
  // The first limit passed: tearing the pipeline down may surface as another error (premature close).
  let refused: PipesError | null = null;
  const refuse = () => {
    refused ??= tooLarge(maxBytes);
    return refused;
  };
  async function* received() {
    let done = false;
    try {
      let total = first.byteLength;
      if (total > maxBytes) throw refuse();
      yield first;
      for (;;) {
        const next = await reader.read();
        if (next.done) break;
        total += next.value.byteLength;
        if (total > maxBytes) throw refuse();
        yield next.value;
      }
      done = true;
    } finally {
      // Stopped early (too large, corrupt): the adapter discards the rest instead of handing it to us.
      if (!done) await reader.cancel().catch(() => {});
    }
  }
  try {
    await pipeline(Readable.from(received()), decoderFor(encoding, first), async (output) => {
      for await (const chunk of output as AsyncIterable<Buffer>) {
        size += chunk.byteLength;
        if (size > maxBytes) throw refuse();
        chunks.push(chunk);
      }
    });
  } catch (err) {
    if (refused) throw refused;
    if (err instanceof PipesError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: `the body is not a complete ${encoding} stream (Content-Encoding: ${encoding}): ${reason}`,
      details: { issues: [{ path: '(body)', message: `corrupt or truncated ${encoding} data` }] },
    });
  }
  return Buffer.concat(chunks, size);
}

/** The request's content coding, `null` for none; throws `UNSUPPORTED_MEDIA_TYPE` for any other. */
function contentEncoding(header: string | null): Encoding | null {
  if (header === null) return null;
  const codings = header
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .filter((part) => part !== '' && part !== 'identity');
  if (codings.length === 0) return null;
  const [coding] = codings;
  if (codings.length === 1 && (acceptedEncodings as readonly string[]).includes(coding!)) {
    return coding as Encoding;
  }
  throw new PipesError({
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: `Content-Encoding "${header.slice(0, 100)}" is not accepted; send the body uncompressed or with one of ${acceptedEncodings.join(', ')}`,
    details: { accepted_encodings: [...acceptedEncodings] },
  });
}

/** `deflate` is meant to be zlib-wrapped (RFC 9110), but some clients send raw deflate: the header tells. */
function decoderFor(encoding: Encoding, first: Uint8Array) {
  if (encoding === 'br') return createBrotliDecompress();
  if (encoding === 'deflate') {
    const zlibHeader =
      first.byteLength >= 2 && (first[0]! & 0x0f) === 8 && ((first[0]! << 8) | first[1]!) % 31 === 0;
    return zlibHeader ? createInflate() : createInflateRaw();
  }
  return createGunzip();
}

function tooLarge(maxBytes: number): PipesError {
  return new PipesError({
    code: 'PAYLOAD_TOO_LARGE',
    message: `the body is larger than ${maxBytes} bytes`,
    details: { max_bytes: maxBytes },
  });
}

/**
 * Checks the `Content-Type` against the accepted media types; the charset, when given, must be
 * UTF-8. Returns the media type. Throws `UNSUPPORTED_MEDIA_TYPE`.
 */
export function checkMediaType(request: Request, accepted: readonly string[]): string {
  return checkContentType(request.headers.get('content-type'), accepted);
}

/** {@link checkMediaType} of a `Content-Type` header's value (null: none given). */
export function checkContentType(contentType: string | null, accepted: readonly string[]): string {
  const header = contentType ?? '';
  const [type = '', ...params] = header.split(';');
  const mediaType = type.trim().toLowerCase();
  const charset = params
    .map((p) => p.trim().toLowerCase())
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (!accepted.includes(mediaType) || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
    throw new PipesError({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: `send the body as ${accepted.join(' or ')} in UTF-8${header ? ` (got "${header.slice(0, 100)}")` : ' (no Content-Type was given)'}`,
      details: { accepted: [...accepted] },
    });
  }
  return mediaType;
}
