/**
 * A raw TCP client for the tests: sends bytes exactly as given (no client library tidies a broken
 * request up) and parses what comes back. Loopback only; `localAddress` picks another 127.x.y.z
 * address, which Linux routes to lo, to act as a second client.
 */
import { connect, type Socket } from 'node:net';

/** One HTTP answer read off a raw connection. */
export interface RawAnswer {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: test answers are inspected field by field
  json: any;
}

/** What came back on a connection until it closed. */
export interface RawExchange {
  /** Every byte the server sent. */
  text: string;
  /** The answer, when the bytes hold a complete one (status line, headers, the whole body). */
  answer: RawAnswer | null;
  /** The socket error the connection ended with, if any (e.g. ECONNRESET). */
  error: string | null;
}

/** Opens a connection and resolves once it is established. */
export function openRaw(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Collects what the server sends on `socket` until the connection closes. `head` says the request
 * was a HEAD (its answer has a Content-Length but no body). Rejects after `timeoutMs` so that a
 * server that neither answers nor closes fails the test instead of hanging it.
 */
export function untilClosed(socket: Socket, options: { head?: boolean; timeoutMs?: number } = {}) {
  return new Promise<RawExchange>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let error: string | null = null;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`the server neither answered nor closed: ${Buffer.concat(chunks).toString('latin1')}`),
      );
    }, options.timeoutMs ?? 10_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ text, answer: parseAnswer(text, options.head ?? false), error });
    });
  });
}

/** Sends `bytes` on a new connection and resolves with what came back before it closed. */
export async function exchange(
  port: number,
  bytes: string | Buffer,
  options: { head?: boolean; localAddress?: string; timeoutMs?: number } = {},
): Promise<RawExchange> {
  const socket = await openRaw(port, options.localAddress);
  const done = untilClosed(socket, options);
  socket.write(bytes);
  return done;
}

/**
 * The first answer in `text` if it is complete: a status line, headers, and a body of exactly
 * Content-Length bytes or a finished chunked body. Null otherwise.
 */
export function parseAnswer(text: string, head: boolean): RawAnswer | null {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3}) /.exec(`${statusLine} `);
  if (!status) return null;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = text.slice(end + 4);
  let body: string;
  if (head || status[1] === '204' || status[1] === '304') body = '';
  else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (Buffer.byteLength(rest, 'latin1') < length) return null;
    body = rest.slice(0, length);
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const decoded = dechunk(rest);
    if (decoded === null) return null;
    body = decoded;
  } else return null; // no framing: the answer is not one a client could know is complete
  const utf8 = Buffer.from(body, 'latin1').toString('utf8');
  let json: unknown = null;
  try {
    json = utf8 ? JSON.parse(utf8) : null;
  } catch {
    json = null;
  }
  return { status: Number(status[1]), headers, body: utf8, json };
}

function dechunk(text: string): string | null {
  let out = '';
  let at = 0;
  for (;;) {
    const line = text.indexOf('\r\n', at);
    if (line < 0) return null;
    const size = Number.parseInt(text.slice(at, line), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) return out;
    const start = line + 2;
    if (text.length < start + size + 2) return null;
    out += text.slice(start, start + size);
    at = start + size + 2;
  }
}
