/**
 * The outcome packer's worker thread (see `outcome-packer.ts`): JSON texts in, each packed with
 * `packJson` (the very function a store calls on its own thread, so the very same bytes), out as
 * one buffer and each value's end in it, both transferred: the bytes cross back without a copy.
 */
import { parentPort } from 'node:worker_threads';
import type { PackReply, PackRequest } from './outcome-packer.js';
import { packJson } from './packed.js';

parentPort?.on('message', ({ id, texts }: PackRequest) => {
  const packed = texts.map((text) => packJson(text));
  const ends = new Uint32Array(packed.length);
  let at = 0;
  packed.forEach((value, i) => {
    at += value.length;
    ends[i] = at;
  });
  const bytes = new Uint8Array(at);
  at = 0;
  for (const value of packed) {
    bytes.set(value, at);
    at += value.length;
  }
  const reply: PackReply = { id, bytes, ends };
  parentPort?.postMessage(reply, [bytes.buffer, ends.buffer]);
});
