/**
 * Reading request bodies within a size limit, and checking their media type. A body over the limit
 * is refused as soon as its declared length or the bytes read so far pass the limit: it is never
 * buffered whole.
 */
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
