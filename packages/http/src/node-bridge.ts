/**
 * Conversion between node:http messages and fetch `Request`/`Response`, shared by the node:http,
 * Express and Fastify adapters (all three hand us an `IncomingMessage`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A fetch `Request` for a node request. The body streams with back-pressure; when the handler
 * cancels it (a body over the limit), the rest is read and discarded rather than destroying the
 * socket, so the client still receives the 413.
 */
export function toFetchRequest(req: IncomingMessage, url = req.url ?? '/', parsedBody?: unknown): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    try {
      headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    } catch {
      // A header undici refuses (HTTP/2 pseudo-headers, odd bytes) is not one we read.
    }
  }
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (method !== 'GET' && method !== 'HEAD') {
    init.duplex = 'half';
    // A framework body parser that ran before us leaves its result; use the raw text if it kept it.
    init.body = req.readableEnded && parsedBody !== undefined ? reparse(parsedBody, headers) : streamOf(req);
  }
  return new Request(new URL(url, `http://${safeHost(req.headers.host)}`), init);
}

/**
 * Writes a fetch `Response` to a node response. Bodies are small JSON documents, written whole;
 * progress streams (`application/x-ndjson`) are written line by line as they come.
 */
export async function writeFetchResponse(res: ServerResponse, response: Response): Promise<void> {
  const type = response.headers.get('content-type') ?? '';
  if (response.body && type.startsWith('application/x-ndjson')) {
    res.statusCode = response.status;
    response.headers.forEach((value, key) => {
      res.setHeader(key, value);
    });
    res.flushHeaders();
    for await (const chunk of response.body) {
      if (res.destroyed) continue; // the client left; let the work finish and drop its lines
      res.write(chunk);
    }
    res.end();
    return;
  }
  const body = Buffer.from(await response.arrayBuffer());
  res.statusCode = response.status;
  response.headers.forEach((value, key) => {
    res.setHeader(key, value);
  });
  res.setHeader('content-length', body.byteLength);
  res.end(body);
}

function streamOf(req: IncomingMessage): ReadableStream<Uint8Array> {
  let open = true;
  let listening = false;
  return new ReadableStream<Uint8Array>(
    {
      // Listeners are attached on the first read only: a body the handler never reads stays
      // untouched, and node:http discards it after the answer as it does for any unread body.
      pull(controller) {
        if (!listening) {
          listening = true;
          req.on('data', (chunk: Buffer) => {
            if (!open) return;
            controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            req.pause();
          });
          req.on('end', () => {
            if (open) controller.close();
            open = false;
          });
          req.on('error', (err) => {
            if (open) controller.error(err);
            open = false;
          });
        }
        req.resume();
      },
      cancel() {
        open = false;
        req.resume();
      },
    },
    { highWaterMark: 0 },
  );
}

function reparse(parsed: unknown, headers: Headers): string | Uint8Array {
  if (typeof parsed === 'string' || parsed instanceof Uint8Array) return parsed;
  headers.delete('content-length');
  return JSON.stringify(parsed);
}

function safeHost(host: string | undefined): string {
  return host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? host : 'localhost';
}
