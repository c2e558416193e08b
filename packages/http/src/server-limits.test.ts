import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientKey, hardenServer, serverLimitDefaults } from './server-limits.js';

describe('hardenServer', () => {
  it("sets Node's timeouts and caps to the documented defaults", () => {
    const server = hardenServer(createServer());
    expect({
      headersTimeout: server.headersTimeout,
      requestTimeout: server.requestTimeout,
      keepAliveTimeout: server.keepAliveTimeout,
      maxConnections: server.maxConnections,
      connectionsCheckingInterval: (server as { connectionsCheckingInterval?: number })
        .connectionsCheckingInterval,
    }).toEqual({
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 5_000,
      maxConnections: 1024,
      connectionsCheckingInterval: 1_000,
    });
    expect(serverLimitDefaults.maxConnectionsPerAddress).toBeLessThan(serverLimitDefaults.maxConnections);
    expect(server.listenerCount('connect')).toBe(1);
    expect(server.listenerCount('clientError')).toBe(1);
  });

  it('refuses limits Node would reject or misread', () => {
    expect(() =>
      hardenServer(createServer(), { headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 }),
    ).toThrow(/headersTimeoutMs must not exceed requestTimeoutMs/);
    expect(() => hardenServer(createServer(), { maxConnectionsPerAddress: -1 })).toThrow(RangeError);
    expect(() => hardenServer(createServer(), { keepAliveTimeoutMs: 1.5 })).toThrow(RangeError);
    expect(() => hardenServer(createServer(), { maxConnections: 0 })).toThrow(/at least 1/);
    const once = hardenServer(createServer());
    expect(() => hardenServer(once)).toThrow(/hardened already/);
  });

  it("keeps a host's own CONNECT listener, and leaves malformed requests to Fastify when told", () => {
    const server = createServer();
    const proxy = () => {};
    server.on('connect', proxy);
    hardenServer(server, { answerClientErrors: false, maxConnectionsPerAddress: 0 });
    expect(server.listeners('connect')).toEqual([proxy]);
    expect(server.listenerCount('clientError')).toBe(0);
  });
});

describe('clientKey', () => {
  it('counts IPv4 by address, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64', () => {
    expect(clientKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:DB8:0001:0002::9')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientKey(undefined)).toBeNull();
    expect(clientKey('')).toBeNull();
  });
});
