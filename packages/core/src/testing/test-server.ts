/**
 * A real HTTP server on 127.0.0.1, port 0, for tests that stand in for an ad platform. It records
 * every request (method, path, headers, parsed body) and answers with whatever the handler says.
 * With `tls`, it is an HTTPS server (for tests of certificate failures).
 */
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface RecordedTestRequest {
  method: string;
  /** Path with query string. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Raw body text. */
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: unknown;
  /** When the request arrived (ms since the epoch). */
  receivedAt: number;
}

export interface TestResponse {
  status?: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string as is. */
  body?: unknown;
  /** Wait this long before answering, ms. */
  delayMs?: number;
}

export interface TestServerOptions {
  /** Serve HTTPS with this key and certificate (PEM), e.g. `selfSignedTls` from `./tls.js`. */
  tls?: { key: string; cert: string };
}

export interface TestServer {
  /** `http://127.0.0.1:<port>` (`https://` with `tls`) */
  url: string;
  /** `127.0.0.1:<port>`, for `egressAllow`. */
  host: string;
  requests: RecordedTestRequest[];
  /** Replaces the handler. */
  handle(handler: (request: RecordedTestRequest) => TestResponse | Promise<TestResponse>): void;
  close(): Promise<void>;
}

/**
 * @example
 * ```ts
 * const meta = await startTestServer(() => ({ body: { events_received: 1, fbtrace_id: 'x' } }));
 * const pipes = createPipes({ store, secretKey, egressAllow: [meta.host] });
 * ```
 */
export async function startTestServer(
  handler: (request: RecordedTestRequest) => TestResponse | Promise<TestResponse> = () => ({ status: 200 }),
  options: TestServerOptions = {},
): Promise<TestServer> {
  let current = handler;
  const requests: RecordedTestRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const listener: RequestListener = (req, res) => {
    const receivedAt = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      const recorded: RecordedTestRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        text,
        json,
        receivedAt,
      };
      requests.push(recorded);
      try {
        const answer = await current(recorded);
        if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
        if (res.destroyed) return;
        const isText = typeof answer.body === 'string';
        const body =
          answer.body === undefined ? '' : isText ? (answer.body as string) : JSON.stringify(answer.body);
        res.writeHead(answer.status ?? 200, {
          'content-type': isText ? 'text/plain' : 'application/json',
          ...answer.headers,
        });
        res.end(body);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`test handler threw: ${String(err)}`);
      }
    });
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, listener) : createServer(listener);
  // A client that refuses the certificate drops the handshake; that is the point, not an error.
  server.on('tlsClientError', () => {});
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    handle(next) {
      current = next;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
