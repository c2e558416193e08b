/**
 * Reading request bodies within a size limit, and checking their media type. A body over the limit
 * is refused as soon as its declared length or the bytes read so far pass the limit: it is never
 * buffered whole.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { PipesError } from '@openpipes/core';

/**
 * Reads the body of `request`, at most `maxBytes` of it. Throws `PAYLOAD_TOO_LARGE` when the body
 * is (or declares to be) larger, after cancelling the rest of the stream.
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
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
 */
export async function readCollectBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const encoding = contentEncoding(request);
  if (encoding === null) return readBody(request, maxBytes);
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const first = await reader.read();
  if (first.done) return new Uint8Array(0);
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
      let total = first.value.byteLength;
      if (total > maxBytes) throw refuse();
      yield first.value;
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
    await pipeline(Readable.from(received()), decoderFor(encoding, first.value), async (output) => {
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
function contentEncoding(request: Request): Encoding | null {
  const header = request.headers.get('content-encoding');
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
  const header = request.headers.get('content-type') ?? '';
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
