/**
 * `openpipes serve` against hostile HTTP (issue 12): one TRACE used to kill the process. Every
 * method and a malformed request line get an answer and the server lives on; a client that leaves
 * half way is not logged as a failure; the connection flags reach the server (a per-address cap,
 * a request timeout that ends a stalled request).
 */
import { METHODS } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, type ServeProcess, startServe, stopAll } from './helpers.js';

interface Raw {
  /** Everything the server sent before the connection closed. */
  text: string;
  status: number | null;
  body: string;
}

function open(url: string, localAddress?: string): Promise<Socket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: Number(port),
      ...(localAddress ? { localAddress } : {}),
    });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** What comes back on `socket` until it closes (a server that neither answers nor closes fails). */
function untilClosed(socket: Socket): Promise<Raw> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no answer and no close: ${text}`)), 15_000);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      resolve({ text, status: status ? Number(status[1]) : null, body: text.split('\r\n\r\n')[1] ?? '' });
    });
  });
}

/** Sends raw bytes on a new connection (from `localAddress` if given). */
async function raw(url: string, bytes: string, localAddress?: string): Promise<Raw> {
  const socket = await open(url, localAddress);
  const done = untilClosed(socket);
  socket.write(bytes);
  return done;
}

const line = (method: string, path: string, headers: string[] = []) =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;

async function expectAlive(serve: ServeProcess) {
  const health = await fetch(`${serve.url}/healthz`);
  expect(health.status).toBe(200);
  expect(serve.process.exitCode).toBeNull();
}

describe('openpipes serve against hostile HTTP', () => {
  afterEach(() => stopAll());

  it('regression (issue 12): answers TRACE /collect/web without credentials, and every other method, and lives on', async () => {
    const serve = await startServe({ args: ['--log-level', 'debug'] });
    const trace = await raw(serve.url, line('TRACE', '/collect/web'));
    expect(trace.status).toBe(405);
    expect(JSON.parse(trace.body).error.code).toBe('METHOD_NOT_ALLOWED');
    expect(trace.text.toLowerCase()).toContain('allow: post');
    await expectAlive(serve);

    for (const method of METHODS) {
      for (const path of ['/collect/web', '/', '/elsewhere']) {
        const answer = await raw(serve.url, line(method, path, ['Content-Length: 0']));
        // GET/HEAD of the index 200; unknown collect source 404; every refusal a 4xx; nothing 5xx.
        expect(answer.status, `${method} ${path}`).toBeGreaterThanOrEqual(200);
        expect(answer.status, `${method} ${path}`).toBeLessThan(500);
      }
    }
    const malformed = await raw(serve.url, 'FOO /collect/web HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body).error.code).toBe('VALIDATION_FAILED');
    await expectAlive(serve);
    expect(serve.stderr()).not.toContain('"level":"error"');
  });

  it('logs a client that leaves half way through its body as the client closing, not as a 500', async () => {
    const serve = await startServe({ args: ['--log-level', 'debug'] });
    const socket = await open(serve.url);
    const closed = untilClosed(socket);
    // `Expect: 100-continue`: Node answers "100 Continue" when it hands the request to the
    // listener, which tells us the server has it. Then half the body, and away.
    const continued = new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        if (chunk.toString('latin1').startsWith('HTTP/1.1 100')) resolve();
      }),
    );
    socket.write(
      'POST /collect/web HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n',
    );
    await continued;
    socket.write('[{"event_type":');
    socket.destroy();
    await closed;
    const logged = await eventually(async () =>
      serve
        .stderr()
        .split('\n')
        .find((l) => l.includes('"code":"CLIENT_CLOSED"')),
    );
    expect(JSON.parse(logged)).toMatchObject({ level: 'debug', status: 499, path: '/collect/web' });
    expect(serve.stderr()).not.toContain('"level":"error"');
    await expectAlive(serve);
  });

  it('caps connections per address and ends a stalled request at --request-timeout-ms', async () => {
    const serve = await startServe({
      args: [
        '--max-connections-per-address',
        '2',
        '--headers-timeout-ms',
        '60000',
        '--request-timeout-ms',
        '60000',
      ],
    });
    const held = [await open(serve.url, '127.0.0.2'), await open(serve.url, '127.0.0.2')];
    const third = await raw(serve.url, line('GET', '/healthz'), '127.0.0.2');
    expect(third.status === 429 || third.text === '').toBe(true);
    expect(third.text).not.toContain('"status":"ok"');
    await expectAlive(serve);
    for (const socket of held) socket.destroy();

    const quick = await startServe({ args: ['--headers-timeout-ms', '300', '--request-timeout-ms', '600'] });
    const stalled = await open(quick.url);
    const ended = untilClosed(stalled);
    stalled.write(
      'POST /collect/web HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n',
    );
    const answer = await ended;
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body).error.code).toBe('REQUEST_TIMEOUT');
    await expectAlive(quick);
  });

  it('refuses a headers timeout above the request timeout at start', async () => {
    await expect(
      startServe({ args: ['--headers-timeout-ms', '20000', '--request-timeout-ms', '10000'] }),
    ).rejects.toThrow(/--headers-timeout-ms \(20000\) must not exceed --request-timeout-ms \(10000\)/);
  });
});
