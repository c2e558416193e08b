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

// Every IPv6 form that carries an IPv4 address, written for one IPv4 (dotted quad).
function embeddings(v4: string): Array<[string, string]> {
  const o = v4.split('.').map(Number) as [number, number, number, number];
  const h = (a: number, b: number) => (((a & 0xff) << 8) | (b & 0xff)).toString(16);
  return [
    ['IPv4-compatible', `::${v4}`],
    ['IPv4-compatible, hex', `::${h(o[0], o[1])}:${h(o[2], o[3])}`],
    ['IPv4-mapped', `::ffff:${v4}`],
    ['IPv4-mapped, hex', `::ffff:${h(o[0], o[1])}:${h(o[2], o[3])}`],
    ['IPv4-translated', `::ffff:0:${v4}`],
    ['NAT64', `64:ff9b::${v4}`],
    ['local-use NAT64', `64:ff9b:1::${v4}`],
    ['6to4', `2002:${h(o[0], o[1])}:${h(o[2], o[3])}::1`],
    // Teredo: server 65.54.227.120, the client's IPv4 bit-inverted in the last 32 bits.
    ['Teredo client', `2001:0:4136:e378:8000:63bf:${h(~o[0], ~o[1])}:${h(~o[2], ~o[3])}`],
    ['Teredo server', `2001:0:${h(o[0], o[1])}:${h(o[2], o[3])}:8000:63bf:a2b3:c4d5`],
  ];
}

describe('egress guard: IPv6 forms of IPv4 and non-unicast IPv6 (issue 12, the class)', () => {
  const nonPublicV4 = [
    '127.0.0.1',
    '127.8.9.10',
    '10.0.0.1',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.251',
    '255.255.255.255',
    '198.18.0.1',
  ];
  const cases = nonPublicV4.flatMap((v4) =>
    embeddings(v4).map(([form, v6]) => [`${form} of ${v4}`, v6, v4] as const),
  );

  it('refuses [::7f00:1] (IPv4-compatible IPv6 for 127.0.0.1) before connecting', async () => {
    const rec = recordingConnector();
    const guard = createEgressGuard({ resolve: noDns, connector: rec.connector });
    // The URL parser writes `[::127.0.0.1]` as `[::7f00:1]`; both are the one address.
    for (const url of ['http://[::7f00:1]/', 'http://[::127.0.0.1]:8080/']) {
      const err = await connectTo(guard, url);
      expect(err).toBeInstanceOf(EgressDeniedError);
      expect(err?.message).toContain('127.0.0.1');
      expect(err?.message).toContain('loopback');
    }
    expect(rec.calls).toEqual([]);
  });

  it.each(cases)('refuses the %s as a literal and as a DNS answer', async (_name, v6, v4) => {
    const rec = recordingConnector();
    const literal = createEgressGuard({ resolve: noDns, connector: rec.connector });
    const err = await connectTo(literal, `http://[${v6}]/`);
    expect(err).toBeInstanceOf(EgressDeniedError);
    // The IPv4-compatible form of 0.0.0.0 is `::` itself, refused as unspecified.
    if (!v6.startsWith('64:ff9b:1:')) expect(err?.message).toMatch(v4 === '0.0.0.0' ? /0\.0\.0\.0|::/ : v4);
    const resolve: EgressResolver = async () => [{ address: v6, family: 6 }];
    const dns = createEgressGuard({ resolve, connector: rec.connector });
    expect(await connectTo(dns, 'https://embedded.attacker.test/')).toBeInstanceOf(EgressDeniedError);
    expect(rec.calls).toEqual([]);
  });

  it.each([
    ['multicast', 'ff02::1'],
    ['link-local', 'fe80::1'],
    ['deprecated site-local', 'fec0::1'],
    ['unique-local', 'fc00::1'],
    ['discard-only', '100::1'],
    ['documentation', '2001:db8::1'],
    ['benchmarking', '2001:2::1'],
    ['ORCHIDv2', '2001:20::1'],
    ['IETF protocol assignments', '2001:1ff::1'],
    ['segment routing', '5f00::1'],
    ['new documentation range', '3fff::1'],
    ['unassigned ::/8 space', '::1:0:0:1'],
    ['unassigned 4000::/3', '4000::1'],
    ['unassigned e000::/4', 'e000::1'],
    ['loopback', '::1'],
    ['unspecified', '::'],
  ])('refuses non-unicast IPv6: %s (%s)', async (_name, v6) => {
    const rec = recordingConnector();
    const guard = createEgressGuard({ resolve: noDns, connector: rec.connector });
    expect(guard.checkAddress(v6).allowed).toBe(false);
    expect(await connectTo(guard, `http://[${v6}]/`)).toBeInstanceOf(EgressDeniedError);
    expect(rec.calls).toEqual([]);
  });

  it('judges well-known NAT64 by the IPv4 it carries and refuses the other transition forms of a public IPv4', async () => {
    const rec = recordingConnector();
    const guard = createEgressGuard({ resolve: noDns, connector: rec.connector });
    const publicForms = new Map(embeddings('93.184.216.34'));
    // What DNS64 answers for a public host on an IPv6-only network: allowed (the recording
    // connector opens nothing).
    await connectTo(guard, `http://[${publicForms.get('NAT64')}]/`);
    expect(rec.calls).toEqual(['64:ff9b::5db8:d822']);
    for (const form of ['IPv4-compatible', 'IPv4-translated', 'local-use NAT64', '6to4', 'Teredo client']) {
      const decision = guard.checkAddress(publicForms.get(form)!);
      expect({ form, ...decision }).toMatchObject({ form, allowed: false });
    }
    expect(guard.checkAddress('2606:4700::1111').allowed).toBe(true);
  });

  it('does not stretch an IPv4 allow-list entry to IPv6 forms other than IPv4-mapped', () => {
    const guard = createEgressGuard({ allow: ['127.0.0.0/8'], resolve: noDns });
    expect(guard.checkAddress('127.0.0.1').allowed).toBe(true);
    expect(guard.checkAddress('::ffff:127.0.0.1').allowed).toBe(true);
    // Through NAT64 or 6to4, "127.0.0.1" is some other machine's loopback.
    expect(guard.checkAddress('::7f00:1').allowed).toBe(false);
    expect(guard.checkAddress('64:ff9b::7f00:1').allowed).toBe(false);
    expect(guard.checkAddress('2002:7f00:1::1').allowed).toBe(false);
    const explicit = createEgressGuard({ allow: ['64:ff9b::/96'], resolve: noDns });
    expect(explicit.checkAddress('64:ff9b::a00:1').allowed).toBe(true);
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
