/**
 * The egress guard behind `fetch` inside `send()`: user code may reach the public internet and
 * nothing else. The check sits where the connection is made (an undici connector), not only in DNS:
 * an IP literal never resolves, so a DNS-only check lets `http://127.0.0.1/` through. A name is
 * resolved by the guard itself and the socket is opened to the very address that was checked, so a
 * second, different DNS answer (rebinding) is never used. Redirects are not followed by undici
 * (`redirect: 'manual'`); every hop is a new request through this same connector.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector } from 'undici';

/** One resolved address, as `dns.lookup(..., { all: true })` returns it. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to addresses. Injectable so tests can simulate any DNS answer offline. */
export type EgressResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface EgressGuardOptions {
  /**
   * Operator allow-list: `host`, `host:port`, an IP literal, or a CIDR range (`127.0.0.0/8`,
   * `::1/128`). Matching destinations bypass the private-address rule. Pipe code can never change it.
   */
  allow?: readonly string[];
  /** DNS resolution; defaults to the system resolver (`dns.lookup`, all addresses). */
  resolve?: EgressResolver;
  /**
   * The connector that opens sockets once an address is approved. Defaults to undici's own.
   * Tests inject a recording connector to prove a refusal happens before any socket is opened.
   */
  connector?: buildConnector.connector;
  /** TCP/TLS connect timeout, ms. */
  connectTimeoutMs?: number;
}

/** Why a destination was refused. */
export class EgressDeniedError extends Error {
  override readonly name = 'EgressDeniedError';
  readonly code = 'EGRESS_DENIED';
  constructor(message: string) {
    super(message);
  }
}

/**
 * A host name that did not resolve. `DNS_NOT_FOUND`: the name does not exist or has no address
 * (ENOTFOUND, ENODATA, an empty answer): a configuration error that waiting does not fix. `DNS`:
 * the resolver failed (EAI_AGAIN, SERVFAIL, a timeout, anything else): worth trying again.
 */
export class EgressDnsError extends Error {
  override readonly name = 'EgressDnsError';
  constructor(
    readonly code: 'DNS' | 'DNS_NOT_FOUND',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const NOT_FOUND_CODES = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME', 'EAI_NODATA']);

function dnsError(host: string, err: unknown): EgressDnsError {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const tag = typeof code === 'string' ? ` (${code})` : '';
  if (typeof code === 'string' && NOT_FOUND_CODES.has(code)) {
    return new EgressDnsError('DNS_NOT_FOUND', `could not resolve ${host}: the name does not exist${tag}`, {
      cause: err,
    });
  }
  const what = code === 'EAI_AGAIN' ? 'temporary DNS failure' : 'DNS lookup failed';
  return new EgressDnsError('DNS', `could not resolve ${host}: ${what}${tag}: ${message}`, { cause: err });
}

export interface EgressDecision {
  allowed: boolean;
  /** For refusals: why, in words an operator understands. */
  reason?: string;
}

export interface EgressGuard {
  /** An undici dispatcher whose every connection goes through the guard. */
  readonly dispatcher: Agent;
  /** The guarded connector itself (what `dispatcher` uses). */
  readonly connect: buildConnector.connector;
  /** Decides on an IP address (any textual form) about to be connected to. */
  checkAddress(address: string, port?: number): EgressDecision;
  /** Decides on a host name or literal and port, resolving names; resolves to the approved address. */
  approve(hostname: string, port: number): Promise<ResolvedAddress>;
  close(): Promise<void>;
}

type AllowEntry =
  | { kind: 'host'; host: string; port?: number }
  | { kind: 'cidr'; range: [ipaddr.IPv4 | ipaddr.IPv6, number]; port?: number };

/** Parses an IP literal in any form WHATWG URLs or sockets accept; IPv4-mapped IPv6 is unwrapped. */
export function parseIpLiteral(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  // Zone ids (`fe80::1%eth0`) are not part of the address.
  const unzoned = bare.includes('%') ? bare.slice(0, bare.indexOf('%')) : bare;
  if (!ipaddr.isValid(unzoned)) return undefined;
  try {
    return ipaddr.process(unzoned.includes(':') ? canonicalIPv6(unzoned) : unzoned);
  } catch {
    return undefined;
  }
}

/**
 * IPv6 text as sockets and URLs read it. ipaddr.js reads the deprecated `::a.b.c.d` as if it were
 * `::ffff:a.b.c.d`, a different address; the WHATWG URL parser writes every dotted tail as hex.
 */
function canonicalIPv6(text: string): string {
  if (!text.includes('.')) return text;
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

function parseAllowEntry(entry: string): AllowEntry {
  const text = entry.trim().toLowerCase();
  if (text.includes('/')) {
    try {
      const [addr, bits] = ipaddr.parseCIDR(text);
      const unwrapped = addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96;
      return unwrapped
        ? { kind: 'cidr', range: [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96] }
        : { kind: 'cidr', range: [addr, bits] };
    } catch {
      throw new TypeError(`egress.allow entry "${entry}" is not a valid CIDR range`);
    }
  }
  // `[::1]:8080`, `host:port`, `::1`, `host`
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return literalOrHost(bracketed[1]!, bracketed[2]);
  const hostPort = /^([^:]+):(\d+)$/.exec(text);
  if (hostPort) return literalOrHost(hostPort[1]!, hostPort[2]);
  return literalOrHost(text, undefined);

  function literalOrHost(host: string, port: string | undefined): AllowEntry {
    const portNumber = port === undefined ? undefined : Number(port);
    const ip = parseIpLiteral(host);
    if (ip) return { kind: 'cidr', range: [ip, ip.kind() === 'ipv4' ? 32 : 128], port: portNumber };
    if (!/^[a-z0-9.-]+$/.test(host)) throw new TypeError(`egress.allow entry "${entry}" is not a host`);
    return { kind: 'host', host, port: portNumber };
  }
}

function inRange(ip: ipaddr.IPv4 | ipaddr.IPv6, range: [ipaddr.IPv4 | ipaddr.IPv6, number]): boolean {
  return ip.kind() === range[0].kind() && ip.match(range as [ipaddr.IPv4, number]);
}

/** An IPv6 form that carries an IPv4 address, and what a connection to it would really reach. */
interface EmbeddedIPv4 {
  /** The form's name, for refusal messages. */
  form: string;
  /** The IPv4 addresses it carries (Teredo carries two: server and client); empty if unknowable. */
  v4: ipaddr.IPv4[];
  /**
   * Whether the form is judged by its IPv4 alone. Only the well-known NAT64 prefix is: on an
   * IPv6-only host behind DNS64, every public IPv4 destination has that form. Every other form is
   * deprecated, local-use or relayed through hosts nobody vetted, and is refused outright.
   */
  judgedByIPv4: boolean;
}

const v4At = (bytes: number[], at: number, flip = 0) =>
  new ipaddr.IPv4(bytes.slice(at, at + 4).map((b) => (b ^ flip) & 0xff));

/**
 * The IPv4 inside an IPv6 address, for every form that embeds one (IPv4-mapped is unwrapped earlier
 * by {@link parseIpLiteral}, since a socket to `::ffff:a.b.c.d` IS a socket to `a.b.c.d`).
 */
function embeddedIPv4(ip: ipaddr.IPv6): EmbeddedIPv4 | undefined {
  const b = ip.toByteArray();
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const parts = ip.parts;
  // ::a.b.c.d (RFC 4291 "IPv4-compatible", deprecated); :: and ::1 are judged as themselves.
  if (zero(0, 12) && !(zero(12, 15) && b[15]! <= 1)) {
    return { form: 'IPv4-compatible', v4: [v4At(b, 12)], judgedByIPv4: false };
  }
  // ::ffff:0:a.b.c.d (RFC 6145 "IPv4-translated").
  if (zero(0, 8) && parts[4] === 0xffff && parts[5] === 0) {
    return { form: 'IPv4-translated', v4: [v4At(b, 12)], judgedByIPv4: false };
  }
  // 64:ff9b::a.b.c.d (RFC 6052 well-known NAT64 prefix).
  if (parts[0] === 0x64 && parts[1] === 0xff9b && zero(4, 12)) {
    return { form: 'NAT64', v4: [v4At(b, 12)], judgedByIPv4: true };
  }
  // 64:ff9b:1::/48 (RFC 8215 local-use NAT64): the IPv4's place depends on the operator's prefix.
  if (parts[0] === 0x64 && parts[1] === 0xff9b && parts[2] === 1) {
    return { form: 'local-use NAT64', v4: [], judgedByIPv4: false };
  }
  // 2002:aabb:ccdd::/48 (RFC 3056 6to4).
  if (parts[0] === 0x2002) return { form: '6to4', v4: [v4At(b, 2)], judgedByIPv4: false };
  // 2001:0:server::client (RFC 4380 Teredo): the client's IPv4 is stored bit-inverted.
  if (parts[0] === 0x2001 && parts[1] === 0) {
    return { form: 'Teredo', v4: [v4At(b, 4), v4At(b, 12, 0xff)], judgedByIPv4: false };
  }
  return undefined;
}

/** 2000::/3, the only IPv6 space IANA hands out as global unicast. */
const globalUnicast = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number];

/** Public or not, and if not, why, in words an operator understands. */
function judge(ip: ipaddr.IPv4 | ipaddr.IPv6): { public: boolean; why: string } {
  if (ip.kind() === 'ipv4') {
    const range = ip.range();
    return { public: range === 'unicast', why: describeRange(range) };
  }
  const v6 = ip as ipaddr.IPv6;
  const embedded = embeddedIPv4(v6);
  if (embedded) {
    const inner = embedded.v4.map((v4) => ({ v4, ...judge(v4) }));
    const privateInner = inner.find((x) => !x.public);
    if (privateInner) {
      return {
        public: false,
        why: `the ${embedded.form} form of ${privateInner.v4.toString()} (${privateInner.why})`,
      };
    }
    if (embedded.judgedByIPv4 && inner.length > 0) return { public: true, why: 'public' };
    return {
      public: false,
      why: `in the ${embedded.form} range (an IPv6 transition form that is never public)`,
    };
  }
  const range = v6.range();
  if (range !== 'unicast') return { public: false, why: describeRange(range) };
  // ipaddr.js calls anything it has no name for "unicast"; outside 2000::/3 that is unassigned or
  // reserved space (::/8, 4000::/3, ...), never a host on the internet.
  if (!v6.match(globalUnicast)) return { public: false, why: 'outside the global unicast range 2000::/3' };
  return { public: true, why: 'public' };
}

/**
 * Whether an address is on the public internet. IPv4: everything ipaddr.js does not call plain
 * `unicast` is refused: loopback, private, link-local (cloud metadata 169.254.169.254), CGNAT,
 * multicast, unspecified, broadcast, reserved. IPv6: only global unicast (2000::/3) outside every
 * special range; IPv4-mapped addresses are unwrapped first (see {@link parseIpLiteral}); a NAT64
 * address (`64:ff9b::/96`) is as public as the IPv4 it carries; every other form that carries an
 * IPv4 (IPv4-compatible `::a.b.c.d`, IPv4-translated, local-use NAT64 `64:ff9b:1::/48`, 6to4
 * `2002::/16`, Teredo `2001::/32`) is refused.
 *
 * @example
 * ```ts
 * isPublicAddress(parseIpLiteral('[::7f00:1]')!); // false: IPv4-compatible form of 127.0.0.1
 * isPublicAddress(parseIpLiteral('2606:4700::1111')!); // true
 * ```
 */
export function isPublicAddress(ip: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return judge(ip).public;
}

const defaultResolver: EgressResolver = async (hostname) => {
  const answers = await dnsLookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/**
 * Creates the egress guard: an undici `Agent` whose connector refuses any address that is not
 * public unicast unless the operator allowed it.
 *
 * @example
 * ```ts
 * const guard = createEgressGuard({ allow: ['127.0.0.1:8080'] });
 * const res = await fetch(url, { dispatcher: guard.dispatcher, redirect: 'manual' }); // undici fetch
 * ```
 */
export function createEgressGuard(options: EgressGuardOptions = {}): EgressGuard {
  const allow = (options.allow ?? []).map(parseAllowEntry);
  const resolve = options.resolve ?? defaultResolver;
  const base =
    options.connector ??
    buildConnector({ timeout: options.connectTimeoutMs ?? 10_000, keepAlive: true, allowH2: false });

  const allowedByName = (hostname: string, port: number) =>
    allow.some((e) => e.kind === 'host' && e.host === hostname && (e.port === undefined || e.port === port));

  function checkAddress(address: string, port?: number): EgressDecision {
    const ip = parseIpLiteral(address);
    if (!ip) return { allowed: false, reason: `"${address}" is not an IP address` };
    const allowed = allow.some(
      (e) => e.kind === 'cidr' && inRange(ip, e.range) && (e.port === undefined || e.port === port),
    );
    if (allowed) return { allowed: true };
    const verdict = judge(ip);
    if (verdict.public) return { allowed: true };
    return {
      allowed: false,
      reason: `address ${ip.toString()} is ${verdict.why}, which sandboxed code may not reach`,
    };
  }

  async function approve(hostname: string, port: number): Promise<ResolvedAddress> {
    const host = hostname.toLowerCase().replace(/\.$/, '');
    const literal = parseIpLiteral(host);
    if (literal) {
      const decision = checkAddress(host, port);
      if (!decision.allowed) throw new EgressDeniedError(decision.reason ?? 'refused');
      return { address: literal.toString(), family: literal.kind() === 'ipv4' ? 4 : 6 };
    }
    let answers: ResolvedAddress[];
    try {
      answers = await resolve(host);
    } catch (err) {
      throw dnsError(host, err);
    }
    if (answers.length === 0)
      throw new EgressDnsError('DNS_NOT_FOUND', `could not resolve ${host}: no addresses`);
    if (allowedByName(host, port)) return answers[0]!;
    // Every answer must be public: otherwise an attacker-controlled zone could mix a private
    // address in and win whenever the client happens to pick it.
    for (const answer of answers) {
      const decision = checkAddress(answer.address, port);
      if (!decision.allowed) throw new EgressDeniedError(`${host} resolves to ${decision.reason}`);
    }
    return answers[0]!;
  }

  const connect: buildConnector.connector = (opts, callback) => {
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    approve(opts.hostname, port).then(
      (approved) => {
        // Connect to the approved address, keep the name for TLS (SNI and certificate checks).
        const literal = parseIpLiteral(opts.hostname.toLowerCase());
        const servername = literal ? opts.servername : (opts.servername ?? opts.hostname);
        base({ ...opts, hostname: approved.address, servername }, callback);
      },
      (err: Error) => callback(err, null),
    );
  };

  const dispatcher = new Agent({ connect, connections: 16, keepAliveTimeout: 4_000 });
  return {
    dispatcher,
    connect,
    checkAddress,
    approve,
    close: () => dispatcher.close(),
  };
}

function describeRange(range: string): string {
  const words: Record<string, string> = {
    loopback: 'loopback',
    private: 'a private address',
    linkLocal: 'link-local (includes cloud metadata)',
    carrierGradeNat: 'carrier-grade NAT',
    multicast: 'multicast',
    unspecified: 'unspecified',
    uniqueLocal: 'unique-local',
    broadcast: 'broadcast',
    reserved: 'reserved',
  };
  return words[range] ?? `not public (${range})`;
}
