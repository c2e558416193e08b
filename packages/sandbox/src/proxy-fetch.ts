/**
 * A `fetch` made by guest code in a worker, run on the main thread with the `fetch` the caller of
 * `send()` substituted (`options.fetch`), and the answer the worker gets back.
 */
import { readCapped } from './host-fetch.js';
import type { FromWorker, GuestFetchResponseRaw, ToWorker } from './protocol.js';
import type { FetchLike } from './types.js';

/** Runs the worker's fetch request with `fetch` and replies with the response or the error. */
export async function answerFetch(
  fetch: FetchLike | undefined,
  msg: Extract<FromWorker, { type: 'fetch' }>,
  reply: (body: Extract<ToWorker, { type: 'fetch-result' }>) => void,
): Promise<void> {
  if (!fetch) {
    reply({ type: 'fetch-result', fetchId: msg.fetchId, error: { message: 'no fetch for this call' } });
    return;
  }
  try {
    const init: RequestInit = {
      method: msg.request.method,
      headers: msg.request.headers,
      redirect: 'manual',
    };
    if (msg.request.body !== undefined) init.body = msg.request.body;
    const res = await fetch(msg.request.url, init);
    const { text, truncated } = await readCapped(res.body as ReadableStream<Uint8Array> | null, msg.maxBytes);
    const response: GuestFetchResponseRaw = {
      status: res.status,
      statusText: res.statusText,
      headers: [...res.headers.entries()],
      body: text,
      truncated,
    };
    reply({ type: 'fetch-result', fetchId: msg.fetchId, response });
  } catch (err) {
    reply({ type: 'fetch-result', fetchId: msg.fetchId, error: { message: (err as Error).message } });
  }
}
