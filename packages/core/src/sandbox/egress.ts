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
    return ipaddr.process(unzoned);
  } catch {
    return undefined;
  }
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

/**
 * Whether an address is on the public internet. Everything ipaddr.js does not call plain `unicast`
 * is refused: loopback, private, link-local (cloud metadata 169.254.169.254), CGNAT, multicast,
 * unspecified, unique-local, reserved, NAT64/6to4/Teredo forms that embed another address.
 */
export function isPublicAddress(ip: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return ip.range() === 'unicast';
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
    if (isPublicAddress(ip)) return { allowed: true };
    return {
      allowed: false,
      reason: `address ${ip.toString()} is ${describeRange(ip)}, which sandboxed code may not reach`,
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
      const e = new Error(`could not resolve ${host}: ${(err as Error).message}`, { cause: err });
      (e as Error & { code: string }).code = 'DNS';
      throw e;
    }
    if (answers.length === 0) {
      const e = new Error(`could not resolve ${host}: no addresses`);
      (e as Error & { code: string }).code = 'DNS';
      throw e;
    }
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

function describeRange(ip: ipaddr.IPv4 | ipaddr.IPv6): string {
  const range = ip.range();
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
