/**
 * A loopback TCP proxy in front of PostgreSQL that reads what clients send (the frontend side of
 * the wire protocol) and records the name of every Parse message: '' for an unnamed statement, a
 * name for a named (server-side prepared) one, which a transaction-pooling proxy such as PgBouncer
 * before 1.21 cannot keep. Bytes pass through unchanged.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface WireRecorder {
  /** A connection string to PostgreSQL through the proxy. */
  url: string;
  /** The names of the Parse messages seen, in order ('' for unnamed statements). */
  parsed: string[];
  close: () => Promise<void>;
}

const sslRequest = 80877103;
const gssEncRequest = 80877104;

export async function startWireRecorder(postgresUrl: string): Promise<WireRecorder> {
  const target = new URL(postgresUrl);
  const parsed: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    const forget = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', forget).on('close', forget);
    upstream.on('error', forget).on('close', forget);
    upstream.pipe(client);
    let started = false;
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const head = started ? 5 : 8;
        if (pending.length < head) return;
        const length = started ? pending.readInt32BE(1) + 1 : pending.readInt32BE(0);
        if (pending.length < length) return;
        const message = pending.subarray(0, length);
        pending = pending.subarray(length);
        if (!started) {
          // SSL and GSS requests come before the startup message, without a type byte too.
          const code = message.readInt32BE(4);
          if (code !== sslRequest && code !== gssEncRequest) started = true;
        } else if (message[0] === 0x50 /* 'P' */) {
          const end = message.indexOf(0, 5);
          parsed.push(message.subarray(5, end).toString('utf8'));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(postgresUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    parsed,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
