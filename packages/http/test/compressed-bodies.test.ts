/**
 * Compressed collect bodies (issue 18): `Content-Encoding: gzip`, `deflate` (zlib-wrapped and raw)
 * and `br` are decompressed on every adapter, over real HTTP on port 0 with a real SQLite file. The
 * size limit counts the decompressed bytes: a 1 KB bomb is a 413 stopped while decompressing. A
 * corrupt or truncated stream is a 400, an unknown coding a 415, and nothing is stored on any failure.
 */
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { purchaseEvent, purchaseSchema } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from './client.js';
import { adapters, type Fixture, startFixture } from './servers.js';

const maxBodyBytes = 64 * 1024;

describe.each(adapters)('compressed collect bodies on %s', (adapter) => {
  let f: Fixture;

  beforeAll(async () => {
    f = await startFixture(adapter, { collect: { maxBodyBytes } });
    await f.pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema });
    await f.pipes.sources.create({ name: 'Web', slug: 'web' });
  });
  afterAll(async () => {
    await f?.close();
  });

  const body = (id: string) => Buffer.from(JSON.stringify([purchaseEvent(id)]));

  it.each([
    ['gzip', 'gzip', gzipSync],
    ['x-gzip', 'x-gzip', gzipSync],
    ['deflate', 'deflate (zlib)', deflateSync],
    ['deflate', 'deflate (raw)', deflateRawSync],
    ['br', 'br', brotliCompressSync],
    ['identity', 'identity', (b: Buffer) => b],
  ] as const)(
    'Content-Encoding: %s (%s) is decompressed and the event stored',
    async (encoding, label, compress) => {
      const id = `order-${label}`;
      const before = await f.stored();
      const answer = await collect(f, 'web', compress(body(id)), { 'content-encoding': encoding });
      expect(answer.status, answer.text).toBe(202);
      expect(answer.json.results).toEqual([expect.objectContaining({ event_id: id, status: 'accepted' })]);
      expect((await f.stored()).events).toBe(before.events + 1);
    },
  );

  /**
   * Collects `bytes` sent with `Content-Encoding: encoding`, expects the refusal (`status`, `code`)
   * and that nothing was stored; returns the answer for the checks that are the case's own.
   */
  const refusedStoringNothing = async (bytes: Buffer, encoding: string, status: number, code: string) => {
    const before = await f.stored();
    const answer = await collect(f, 'web', bytes, { 'content-encoding': encoding });
    expect({ status: answer.status, code: answer.json.error.code }).toEqual({ status, code });
    expect(await f.stored()).toEqual(before);
    return answer;
  };

  it('a corrupt gzip stream is a 400 naming the coding; nothing is stored', async () => {
    const zipped = gzipSync(body('corrupt'));
    zipped.fill(0x55, 12, 40);
    const answer = await refusedStoringNothing(zipped, 'gzip', 400, 'VALIDATION_FAILED');
    expect(answer.json.error.message).toMatch(/gzip/);
  });

  it('bytes that are not gzip at all, sent as gzip, are a 400', async () => {
    await refusedStoringNothing(body('plain-as-gzip'), 'gzip', 400, 'VALIDATION_FAILED');
  });

  it.each([
    ['gzip', gzipSync],
    ['br', brotliCompressSync],
    ['deflate', deflateSync],
  ] as const)('a truncated %s stream is a 400; nothing is stored', async (encoding, compress) => {
    const whole = compress(body(`truncated-${encoding}`));
    const half = whole.subarray(0, Math.floor(whole.byteLength / 2));
    await refusedStoringNothing(half, encoding, 400, 'VALIDATION_FAILED');
  });

  it.each([
    ['gzip', gzipSync],
    ['br', brotliCompressSync],
  ] as const)(
    'a %s bomb (about 1 KB expanding to 1 MiB, 16 times the limit) is a 413; nothing is stored',
    async (encoding, compress) => {
      const bomb = compress(Buffer.alloc(1024 * 1024, 0x20));
      expect(bomb.byteLength).toBeLessThanOrEqual(1100);
      const answer = await refusedStoringNothing(bomb, encoding, 413, 'PAYLOAD_TOO_LARGE');
      expect(answer.json.error.details).toEqual({ max_bytes: maxBodyBytes });
    },
  );

  it('an unknown coding, or two stacked, is a 415 naming the accepted ones; nothing is stored', async () => {
    for (const encoding of ['compress', 'zstd', 'gzip, gzip']) {
      const bytes = gzipSync(body(`unknown-${encoding}`));
      const answer = await refusedStoringNothing(bytes, encoding, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(answer.json.error.details.accepted_encodings).toContain('gzip');
    }
  });
});
