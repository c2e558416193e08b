import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { buildConnector } from 'undici';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEgressGuard, EgressDeniedError, type EgressResolver } from './egress.js';

// NETWORK RULE: nothing here may send a packet anywhere but loopback. Refusals of private,
// link-local and metadata addresses are proven at the connector, with a recording base connector
// that would fail the test if the guard ever let such an address through.
function recordingConnector() {
  const calls: string[] = [];
  const connector: buildConnector.connector = (opts, cb) => {
    calls.push(opts.hostname);
    cb(new Error('recording connector: no socket opened'), null);
  };
  return { calls, connector };
}

function connectTo(guard: ReturnType<typeof createEgressGuard>, url: string): Promise<Error | null> {
  const u = new URL(url);
  return new Promise((resolve) => {
    guard.connect({ hostname: u.hostname, protocol: u.protocol, port: u.port }, (...args) =>
      resolve(args[0]),
    );
  });
}

const noDns: EgressResolver = async (host) => {
  throw new Error(`unexpected DNS lookup of ${host}`);
};

describe('egress guard decisions (no packet leaves)', () => {
  const forbiddenLiterals: Array<[string, string]> = [
    ['IPv4 loopback', 'http://127.0.0.1/'],
    ['IPv4 loopback elsewhere in 127/8', 'http://127.8.9.10:8080/'],
    ['IPv4 private 10/8', 'http://10.0.0.5/'],
    ['IPv4 private 172.16/12', 'http://172.16.3.4/'],
    ['IPv4 private 192.168/16', 'https://192.168.1.1/'],
    ['IPv4 link-local', 'http://169.254.10.20/'],
    ['cloud metadata 169.254.169.254', 'http://169.254.169.254/latest/meta-data/'],
    ['IPv4 CGNAT', 'http://100.64.0.1/'],
    ['IPv4 multicast', 'http://224.0.0.251/'],
    ['IPv4 unspecified 0.0.0.0', 'http://0.0.0.0/'],
    ['IPv4 broadcast', 'http://255.255.255.255/'],
    ['IPv6 loopback ::1', 'http://[::1]/'],
    ['IPv6 unique-local', 'http://[fd00::1]/'],
    ['IPv6 link-local', 'http://[fe80::1]/'],
    ['IPv6 unspecified', 'http://[::]/'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/'],
    ['IPv4-mapped IPv6 metadata', 'http://[::ffff:169.254.169.254]/'],
    ['decimal IPv4 literal 2130706433', 'http://2130706433/'],
    ['hex IPv4 literal 0x7f000001', 'http://0x7f000001/'],
    ['short IPv4 literal 127.1', 'http://127.1/'],
    ['NAT64 form of a private address', 'http://[64:ff9b::a00:1]/'],
  ];

  it.each(forbiddenLiterals)('refuses %s at the connect hook', async (_name, url) => {
    const rec = recordingConnector();
    const guard = createEgressGuard({ resolve: noDns, connector: rec.connector });
    const err = await connectTo(guard, url);
    expect(err).toBeInstanceOf(EgressDeniedError);
    expect(rec.calls).toEqual([]);
  });

  it('refuses raw decimal and hex literals even before URL normalisation', async () => {
    const guard = createEgressGuard({ resolve: noDns, connector: recordingConnector().connector });
    await expect(guard.approve('2130706433', 80)).rejects.toBeInstanceOf(EgressDeniedError);
    await expect(guard.approve('0x7f000001', 80)).rejects.toBeInstanceOf(EgressDeniedError);
    await expect(guard.approve('0xa9fea9fe', 80)).rejects.toThrow(/link-local/);
  });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'a private address'],
    ['169.254.169.254', 'link-local'],
    ['::1', 'loopback'],
    ['fd12:3456::1', 'unique-local'],
  ])('refuses a DNS name that resolves to %s', async (address, words) => {
    const rec = recordingConnector();
    const resolve: EgressResolver = async () => [{ address, family: address.includes(':') ? 6 : 4 }];
    const guard = createEgressGuard({ resolve, connector: rec.connector });
    const err = await connectTo(guard, 'https://rebind.attacker.test/');
    expect(err).toBeInstanceOf(EgressDeniedError);
    expect(err?.message).toContain(words);
    expect(rec.calls).toEqual([]);
  });

  it('refuses a name when any of its addresses is private', async () => {
    const rec = recordingConnector();
    const resolve: EgressResolver = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.1', family: 4 },
    ];
    const guard = createEgressGuard({ resolve, connector: rec.connector });
    expect(await connectTo(guard, 'https://mixed.attacker.test/')).toBeInstanceOf(EgressDeniedError);
    expect(rec.calls).toEqual([]);
  });

  it('refuses localhost by resolving it', async () => {
    const rec = recordingConnector();
    const guard = createEgressGuard({ connector: rec.connector });
    expect(await connectTo(guard, 'http://localhost:9/')).toBeInstanceOf(EgressDeniedError);
    expect(rec.calls).toEqual([]);
  });

  it('connects to the very address it checked (no second DNS answer is used)', async () => {
    const rec = recordingConnector();
    let lookups = 0;
    const resolve: EgressResolver = async () => {
      lookups++;
      return [{ address: lookups === 1 ? '93.184.216.34' : '127.0.0.1', family: 4 }];
    };
    const guard = createEgressGuard({ resolve, connector: rec.connector });
    await connectTo(guard, 'https://public.example.test/');
    expect(rec.calls).toEqual(['93.184.216.34']);
    expect(lookups).toBe(1);
  });

  it('lets public unicast addresses through to the connector', async () => {
    const rec = recordingConnector();
    const guard = createEgressGuard({ resolve: noDns, connector: rec.connector });
    await connectTo(guard, 'https://93.184.216.34/');
    await connectTo(guard, 'https://[2606:4700::1111]/');
    expect(rec.calls).toEqual(['93.184.216.34', '2606:4700::1111']);
  });

  it('honours operator allow-list entries: host, host:port and CIDR', async () => {
    const rec = recordingConnector();
    const resolve: EgressResolver = async () => [{ address: '10.0.0.7', family: 4 }];
    const guard = createEgressGuard({
      allow: ['internal.svc', 'other.svc:8443', '127.0.0.0/8'],
      resolve,
      connector: rec.connector,
    });
    expect(guard.checkAddress('127.0.0.5').allowed).toBe(true);
    expect(guard.checkAddress('::ffff:127.0.0.5').allowed).toBe(true);
    expect(guard.checkAddress('10.0.0.7').allowed).toBe(false);
    await connectTo(guard, 'http://internal.svc/');
    await connectTo(guard, 'https://other.svc:8443/');
    expect(await connectTo(guard, 'https://other.svc:9000/')).toBeInstanceOf(EgressDeniedError);
    expect(rec.calls).toEqual(['10.0.0.7', '10.0.0.7']);
  });

  it('rejects a malformed allow-list entry', () => {
    expect(() => createEgressGuard({ allow: ['10.0.0.0/99'] })).toThrow(/CIDR/);
  });
});

describe('egress guard with undici fetch against loopback', () => {
  let server: Server;
  let port: number;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.end('hello');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('refuses loopback by default and reaches it when the operator allows it', async () => {
    const denied = createEgressGuard();
    await expect(
      undiciFetch(`http://127.0.0.1:${port}/`, { dispatcher: denied.dispatcher }),
    ).rejects.toThrow();
    expect(hits).toBe(0);
    const allowed = createEgressGuard({ allow: [`127.0.0.1:${port}`] });
    const res = await undiciFetch(`http://127.0.0.1:${port}/`, { dispatcher: allowed.dispatcher });
    expect(await res.text()).toBe('hello');
    expect(hits).toBe(1);
    await denied.close();
    await allowed.close();
  });
});
