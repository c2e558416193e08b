/**
 * `hardenServer` under the attack of issue 12: one address opens its cap of connections and stalls
 * them (a declared body never sent, headers never finished). Other addresses are still served, the
 * same address is refused more, and the stalled connections end at the request timeout. Linux
 * routes all of 127.0.0.0/8 to lo, so 127.0.0.2 is a second client on the same machine.
 */
import type { AddressInfo, Socket } from 'node:net';
import { waitFor } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, openRaw, type RawExchange, untilClosed } from './raw.js';
import { adapters, type Fixture, startFixture } from './servers.js';

const cap = 4;
const attacker = '127.0.0.2';

describe.each(adapters)('connection limits through %s', (adapter) => {
  let f: Fixture;
  let port: number;

  beforeAll(async () => {
    // Long timeouts while the cap is held, so that nothing in the first half of the test depends on
    // how fast the machine is; the test lowers them on the live server to see the stalled ones go.
    f = await startFixture(
      adapter,
      {},
      { limits: { maxConnectionsPerAddress: cap, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000 } },
    );
    port = (f.server.address() as AddressInfo).port;
    await f.pipes.sources.create({ name: 'Web', slug: 'web' });
  });

  afterAll(async () => {
    await f?.close();
  });

  it('serves other addresses while one holds its cap of stalled connections, refuses it more, and closes the stalled ones at the timeout', async () => {
    const stalled: Array<{ socket: Socket; closed: Promise<RawExchange> }> = [];
    for (let i = 0; i < cap; i++) {
      const socket = await openRaw(port, attacker);
      stalled.push({ socket, closed: untilClosed(socket, { timeoutMs: 30_000 }) });
      socket.write(
        i % 2 === 0
          ? // A body declared and never sent.
            'POST /openpipes/collect/web HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n'
          : // Headers never finished (slow loris).
            'GET /openpipes/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a',
      );
    }

    // Connections are counted in the order the server accepts them: a fifth from the same address
    // is over the cap. It is answered 429 and closed before a byte of it is read (if the client's
    // bytes were already in flight, the close may come as a reset instead); never served.
    const fifth = await exchange(port, 'GET /openpipes/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', {
      localAddress: attacker,
    });
    if (fifth.answer) {
      expect(fifth.answer.status).toBe(429);
      expect(fifth.answer.headers['retry-after']).toBe('1');
      expect(fifth.answer.json.error.code).toBe('RATE_LIMITED');
    } else {
      expect(fifth.error).toBe('ECONNRESET');
    }
    expect(fifth.text).not.toContain('"status":"ok"');

    // Everyone else is served meanwhile: 127.0.0.1 and another address.
    const health = await fetch(`${f.base}/healthz`);
    expect(health.status).toBe(200);
    const other = await exchange(
      port,
      'GET /openpipes/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
      { localAddress: '127.0.0.3' },
    );
    expect(other.answer?.status).toBe(200);
    // ...and the cap is still held: none of the stalled connections has ended.
    expect(stalled.map((s) => s.socket.readyState)).toEqual(Array(cap).fill('open'));
    expect(f.logger.lines.some((l) => l.includes('too many from one address'))).toBe(true);

    // Lower the timeouts on the live server (Node reads them at every check, every 50 ms here):
    // the stalled connections get a 408 and are closed.
    f.server.headersTimeout = 200;
    f.server.requestTimeout = 400;
    const ended = await Promise.all(stalled.map((s) => s.closed));
    for (const end of ended) {
      expect(end.answer?.status).toBe(408);
      if (adapter !== 'fastify') expect(end.answer?.json.error.code).toBe('REQUEST_TIMEOUT');
    }

    // Their places are free again: the address is served (once the server has seen them close).
    const again = await waitFor(async () => {
      const result = await exchange(
        port,
        'GET /openpipes/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
        { localAddress: attacker },
      );
      return result.answer?.status === 200 ? result : null;
    });
    expect(again.answer?.json).toMatchObject({ status: 'ok' });
  });
});
