/**
 * `hardenServer()`: the limits a node:http server facing the internet needs, whatever framework
 * answers its requests. Node's defaults let a client that declares a body and never sends it hold a
 * connection for five minutes, and let one address open as many connections as the process can
 * hold; they answer a malformed request with a bare 400 and drop a CONNECT without a word.
 */
import { type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { adaptLogger, type Logger } from '@openpipes/core';

/**
 * The limits {@link hardenServer} sets. Every duration is in milliseconds.
 *
 * @example
 * ```ts
 * const limits: ServerLimits = { requestTimeoutMs: 60_000, maxConnectionsPerAddress: 0 }; // behind a proxy
 * ```
 */
export interface ServerLimits {
  /**
   * Time to receive the request line and headers, from the first byte of a request. Default
   * 10 s: a real client sends them in one packet; a slow-loris client sends them one byte at a time.
   */
  headersTimeoutMs?: number;
  /**
   * Time to receive the whole request, headers and body. Default 30 s: a collect body (512 KiB at
   * most) needs 17 KiB/s to make it; raise it for admin uploads (config imports) over slow links.
   * Must be at least `headersTimeoutMs`.
   */
  requestTimeoutMs?: number;
  /**
   * How long an idle keep-alive connection stays open after a response. Default 5 s (Node's). Behind
   * a load balancer that reuses connections, set it above the balancer's idle timeout (AWS ALB: 60 s).
   */
  keepAliveTimeoutMs?: number;
  /** Connections open at once in the whole server (at least 1); Node closes any beyond at once. Default 1024. */
  maxConnections?: number;
  /**
   * Connections open at once from one client address (IPv6: one /64, which one host usually holds);
   * beyond it a connection is answered 429 with `Retry-After` and closed before a byte of it is read.
   * Default 64: a browser opens at most 6 per origin, a backend's pool a few dozen; at least 16
   * addresses are needed to fill `maxConnections`. `0` turns the cap off: do that behind a reverse
   * proxy, where every connection comes from the proxy's address (let the proxy cap per client).
   */
  maxConnectionsPerAddress?: number;
  /**
   * How often Node looks for connections past `headersTimeoutMs`/`requestTimeoutMs`. Default 1 s
   * (Node's is 30 s, which lets a 10 s limit run to 40 s). Takes effect at `listen()`: harden the
   * server before it listens.
   */
  timeoutCheckIntervalMs?: number;
  /**
   * Answer requests node's parser refuses (malformed request line, bad header or chunk, headers too
   * large, timeouts) in OpenPipes' error format: 400, 431, 413 or 408, then close. Default true.
   * Pass false on a Fastify server, which answers them itself.
   */
  answerClientErrors?: boolean;
  /** Told (debug) about refused connections and refused requests. Default: silent. */
  logger?: Logger;
}

/**
 * The defaults of {@link ServerLimits}.
 *
 * @example
 * ```ts
 * hardenServer(server, { requestTimeoutMs: serverLimitDefaults.requestTimeoutMs * 4 });
 * ```
 */
export const serverLimitDefaults = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1024,
  maxConnectionsPerAddress: 64,
  timeoutCheckIntervalMs: 1_000,
} as const;

/** Servers hardened already: a second call would count every connection twice. */
const hardened = new WeakSet<Server>();

/** How long a refused connection may take to read our answer and close before it is destroyed. */
const lingerMs = 2_000;

/**
 * Sets timeouts and connection caps on a node:http (or https) server, answers CONNECT (405: this
 * is no proxy) and malformed requests in OpenPipes' error format, and returns the server. Use it
 * on the server OpenPipes' node:http listener or an Express app listens on; on Fastify, in a
 * `serverFactory` with `answerClientErrors: false`. A server that proxies CONNECT itself keeps its
 * own `'connect'` listener (ours is added only when there is none).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { hardenServer, createNodeListener } from '@openpipes/http/node';
 *
 * const server = hardenServer(createServer(createNodeListener(handler)), { maxConnectionsPerAddress: 64 });
 * server.listen(8080);
 * ```
 */
export function hardenServer<S extends Server>(server: S, limits: ServerLimits = {}): S {
  if (hardened.has(server)) throw new Error('hardenServer: this server is hardened already');
  const settings = { ...serverLimitDefaults, ...definedOnly(limits) };
  for (const [name, value] of Object.entries(settings)) {
    if (typeof value === 'number' && !(Number.isInteger(value) && value >= 0)) {
      throw new RangeError(`hardenServer: ${name} must be a whole number >= 0 (got ${value})`);
    }
  }
  if (settings.maxConnections < 1) {
    // Node versions disagree on what 0 means (no cap, or no connection at all).
    throw new RangeError('hardenServer: maxConnections must be at least 1');
  }
  if (settings.requestTimeoutMs > 0 && settings.headersTimeoutMs > settings.requestTimeoutMs) {
    throw new RangeError('hardenServer: headersTimeoutMs must not exceed requestTimeoutMs');
  }
  hardened.add(server);
  const logger = limits.logger && adaptLogger(limits.logger);
  server.headersTimeout = settings.headersTimeoutMs;
  server.requestTimeout = settings.requestTimeoutMs;
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
  server.maxConnections = settings.maxConnections;
  // Read by Node when the server starts listening (not part of the typed surface after creation).
  (server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval =
    settings.timeoutCheckIntervalMs;

  if (settings.maxConnectionsPerAddress > 0) {
    capPerAddress(server, settings.maxConnectionsPerAddress, logger);
  }
  server.on('drop', (data?: { remoteAddress?: string }) => {
    logger?.debug('OpenPipes HTTP refused a connection: the server is at maxConnections', {
      address: data?.remoteAddress,
      cap: settings.maxConnections,
    });
  });
  if (server.listenerCount('connect') === 0) {
    server.on('connect', (_req, socket: Duplex) => {
      logger?.debug('OpenPipes HTTP refused a CONNECT request', { status: 405 });
      answerAndClose(
        socket,
        405,
        'METHOD_NOT_ALLOWED',
        'CONNECT is not supported: this server is not a proxy',
        {
          allow: '',
        },
      );
    });
  }
  if (limits.answerClientErrors ?? true) {
    const answered = new WeakSet<Duplex>();
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      // Node reports every later chunk of a broken stream too: answer once.
      if (answered.has(socket)) return;
      answered.add(socket);
      // The response in flight, if any (Node's own handler looks at the same field).
      const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
      if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
        socket.destroy();
        return;
      }
      const refusal = clientErrorAnswer(err.code, settings);
      logger?.debug('OpenPipes HTTP refused a malformed request', {
        status: refusal.status,
        reason: err.code ?? 'unknown',
      });
      answerAndClose(socket, refusal.status, refusal.code, refusal.message);
    });
  }
  return server;
}

/**
 * Counts open connections per client address and refuses those over the cap. The listener runs
 * before Node's own: a refused socket is destroyed before Node attaches a parser to it, so none of
 * its bytes are read and no request of it reaches the application.
 */
function capPerAddress(server: Server, cap: number, logger: Logger | undefined): void {
  const open = new Map<string, number>();
  server.prependListener('connection', (socket: Socket) => {
    const key = clientKey(socket.remoteAddress);
    if (key === null) {
      socket.destroy(); // gone before we saw it
      return;
    }
    const count = open.get(key) ?? 0;
    if (count >= cap) {
      socket.on('error', () => {}); // its one write may fail if the client is gone; nothing to do then
      logger?.debug('OpenPipes HTTP refused a connection: too many from one address', {
        address: key,
        open: count,
        cap,
      });
      socket.write(busyResponse);
      socket.destroy();
      return;
    }
    open.set(key, count + 1);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left > 0) open.set(key, left);
      else open.delete(key);
    });
  });
}

const busyBody = JSON.stringify({
  error: {
    code: 'RATE_LIMITED',
    message: 'too many connections from this address; close some and retry',
  },
});
const busyResponse =
  'HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\nconnection: close\r\n' +
  `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(busyBody)}\r\n\r\n${busyBody}`;

/**
 * The key connections are counted under: the IPv4 address (also when IPv4-mapped), or the /64 of
 * an IPv6 address. Null when the socket has no address any more.
 */
export function clientKey(address: string | undefined): string | null {
  if (!address) return null;
  const lower = address.toLowerCase().split('%')[0]!;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (mapped) return mapped[1]!;
  if (!lower.includes(':')) return lower;
  const [head = '', tail] = lower.split('::');
  const before = head === '' ? [] : head.split(':');
  const after = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? before
      : [...before, ...Array<string>(Math.max(0, 8 - before.length - after.length)).fill('0'), ...after];
  const prefix = groups.slice(0, 4).map((group) => (Number.parseInt(group, 16) || 0).toString(16));
  return `${prefix.join(':')}::/64`;
}

/** The answer to a request Node's parser (or its request timer) refused. */
function clientErrorAnswer(
  reason: string | undefined,
  settings: { headersTimeoutMs: number; requestTimeoutMs: number },
): { status: number; code: string; message: string } {
  switch (reason) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'REQUEST_TIMEOUT',
        message: `the request did not arrive in time (headers within ${settings.headersTimeoutMs} ms, the whole request within ${settings.requestTimeoutMs} ms)`,
      };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'the chunk extensions are too large' };
    default:
      return {
        status: 400,
        code: 'VALIDATION_FAILED',
        message: `malformed HTTP request${reason ? ` (${reason})` : ''}`,
      };
  }
}

/**
 * Writes a complete answer on a raw socket and closes it: our side ends at once; the client gets
 * `lingerMs` to read the answer and close its side (destroying at once could reset the connection
 * before the answer is read), then the socket is destroyed anyway.
 */
function answerAndClose(
  socket: Duplex,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  socket.on('error', () => {}); // the client may be gone already; there is nothing left to tell it
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message } });
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nconnection: close\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.resume(); // read and drop what else comes, so the client's close is seen
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
