/**
 * Functions guest code reaches through the `openpipes` global, `crypto`, `URL` and a few host-backed
 * modules. They run on the host because the same work in guest JS is ~10x slower (SHA-256) or
 * impossible (secure randomness, RSA signatures). Every function takes and returns plain JSON data:
 * the guest passes one JSON array of arguments per call, so a batch is one boundary crossing.
 */
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSign,
  createVerify,
  getHashes,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js/min';
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';

export type HostFunction = (...args: unknown[]) => unknown;

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, got ${typeof value}`);
  return value;
}

/** `openpipes.sha256Hex(value)`: a string gives a hex digest, an array gives an array of them. */
function sha256Hex(value: unknown): string | string[] {
  if (Array.isArray(value)) {
    return value.map((v, i) =>
      createHash('sha256')
        .update(str(v, `sha256Hex value[${i}]`))
        .digest('hex'),
    );
  }
  return createHash('sha256').update(str(value, 'sha256Hex value')).digest('hex');
}

/**
 * A key or data the guest passed: a string (UTF-8), or bytes, which the guest sends as
 * `{ base64 }` (a `whsec_` secret's decoded bytes key Standard Webhooks' HMAC).
 */
function bytesOrString(value: unknown, what: string): string | Buffer {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const base64 = (value as { base64?: unknown }).base64;
    if (typeof base64 === 'string' && Object.keys(value).length === 1) return Buffer.from(base64, 'base64');
  }
  throw new TypeError(`${what} must be a string or bytes (Uint8Array, ArrayBuffer), got ${typeof value}`);
}

function hmacSha256Hex(key: unknown, value: unknown): string | string[] {
  const k = bytesOrString(key, 'hmacSha256Hex key');
  if (Array.isArray(value))
    return value.map((v) => createHmac('sha256', k).update(bytesOrString(v, 'value')).digest('hex'));
  return createHmac('sha256', k).update(bytesOrString(value, 'hmacSha256Hex value')).digest('hex');
}

/** Node-style `createHash(alg).update(data).digest(enc)` done in one crossing. */
function hash(algorithm: unknown, data: unknown, encoding: unknown, key?: unknown): string {
  const alg = str(algorithm, 'algorithm').toLowerCase();
  if (!getHashes().includes(alg)) throw new Error(`unsupported hash algorithm "${alg}"`);
  const enc = encoding === undefined ? 'hex' : str(encoding, 'encoding');
  if (enc !== 'hex' && enc !== 'base64' && enc !== 'base64url') {
    throw new Error(`unsupported digest encoding "${enc}" (use hex, base64 or base64url)`);
  }
  const parts = Array.isArray(data) ? data : [data];
  const h = key === undefined || key === null ? createHash(alg) : createHmac(alg, bytesOrString(key, 'key'));
  for (const part of parts) h.update(bytesOrString(part, 'data'));
  return h.digest(enc);
}

/** E.164 normalisation (`+420601123456`), or `null` when the number is not valid. */
function phoneE164(raw: unknown, defaultCountry?: unknown): string | null {
  if (raw === null || raw === undefined || raw === '') return null;
  const text = typeof raw === 'number' ? String(raw) : str(raw, 'phone number');
  const country =
    defaultCountry === undefined || defaultCountry === null ? undefined : str(defaultCountry, 'country');
  const parsed = parsePhoneNumberFromString(text, country?.toUpperCase() as CountryCode | undefined);
  return parsed?.isValid() ? parsed.number : null;
}

const b64url = (buf: Buffer) => buf.toString('base64url');

type JwtAlg = 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384';
const JWT_ALGS = new Set<JwtAlg>(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384']);

function jwtAlg(value: unknown): JwtAlg {
  const alg = value === undefined ? 'HS256' : str(value, 'alg');
  if (!JWT_ALGS.has(alg as JwtAlg)) throw new Error(`unsupported JWT alg "${alg}"`);
  return alg as JwtAlg;
}

const hashOf = (alg: JwtAlg) => `sha${alg.slice(2)}`;

interface JwtSignOptions {
  alg?: string;
  expiresIn?: number;
  kid?: string;
  header?: Record<string, unknown>;
}

/** `openpipes.jwtSign(payload, key, { alg, expiresIn (seconds), kid })`: compact JWS. */
function jwtSign(payload: unknown, key: unknown, options: unknown): string {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new TypeError('jwtSign payload must be an object');
  }
  const opts = (options ?? {}) as JwtSignOptions;
  const alg = jwtAlg(opts.alg);
  const claims: Record<string, unknown> = { ...(payload as Record<string, unknown>) };
  const now = Math.floor(Date.now() / 1000);
  if (claims.iat === undefined) claims.iat = now;
  if (typeof opts.expiresIn === 'number') claims.exp = now + opts.expiresIn;
  const header: Record<string, unknown> = { ...(opts.header ?? {}), alg, typ: 'JWT' };
  if (opts.kid !== undefined) header.kid = opts.kid;
  const input = `${b64url(Buffer.from(JSON.stringify(header)))}.${b64url(Buffer.from(JSON.stringify(claims)))}`;
  const k = str(key, 'jwtSign key');
  let signature: Buffer;
  if (alg.startsWith('HS')) signature = createHmac(hashOf(alg), k).update(input).digest();
  else {
    const signer = createSign(hashOf(alg));
    signer.update(input);
    signature = signer.sign({
      key: createPrivateKey(k),
      ...(alg.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {}),
    });
  }
  return `${input}.${b64url(signature)}`;
}

interface JwtVerifyOptions {
  algorithms?: string[];
  clockToleranceSec?: number;
}

/** Verifies signature, `exp` and `nbf`; resolves to the claims or throws saying why not. */
function jwtVerify(token: unknown, key: unknown, options: unknown): Record<string, unknown> {
  const parts = str(token, 'token').split('.');
  if (parts.length !== 3) throw new Error('jwtVerify: malformed token');
  const [h, p, s] = parts as [string, string, string];
  let header: { alg?: unknown };
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  } catch {
    throw new Error('jwtVerify: malformed token');
  }
  const opts = (options ?? {}) as JwtVerifyOptions;
  const alg = jwtAlg(header.alg);
  const allowed = opts.algorithms ?? [alg.startsWith('HS') ? 'HS256' : alg];
  if (!allowed.includes(alg)) throw new Error(`jwtVerify: alg ${alg} not allowed`);
  const input = `${h}.${p}`;
  const sig = Buffer.from(s, 'base64url');
  const k = str(key, 'jwtVerify key');
  let ok: boolean;
  if (alg.startsWith('HS')) {
    const expected = createHmac(hashOf(alg), k).update(input).digest();
    ok = expected.length === sig.length && timingSafeEqual(expected, sig);
  } else {
    const verifier = createVerify(hashOf(alg));
    verifier.update(input);
    ok = verifier.verify(
      { key: createPublicKey(k), ...(alg.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {}) },
      sig,
    );
  }
  if (!ok) throw new Error('jwtVerify: signature does not match');
  const now = Math.floor(Date.now() / 1000);
  const tolerance = opts.clockToleranceSec ?? 0;
  if (typeof claims.exp === 'number' && now > claims.exp + tolerance)
    throw new Error('jwtVerify: token expired');
  if (typeof claims.nbf === 'number' && now + tolerance < claims.nbf)
    throw new Error('jwtVerify: token not yet valid');
  return claims;
}

/** WHATWG URL parsing for the guest `URL` class: the components, or a TypeError. */
function urlParse(input: unknown, base: unknown): Record<string, string> {
  const u =
    base === undefined || base === null ? new URL(String(input)) : new URL(String(input), String(base));
  return {
    href: u.href,
    origin: u.origin,
    protocol: u.protocol,
    username: u.username,
    password: u.password,
    host: u.host,
    hostname: u.hostname,
    port: u.port,
    pathname: u.pathname,
    search: u.search,
    hash: u.hash,
  };
}

function urlSet(href: unknown, part: unknown, value: unknown): Record<string, string> {
  const u = new URL(str(href, 'href'));
  const key = str(part, 'part');
  const settable = [
    'href',
    'protocol',
    'username',
    'password',
    'host',
    'hostname',
    'port',
    'pathname',
    'search',
    'hash',
  ];
  if (!settable.includes(key)) throw new TypeError(`URL.${key} cannot be set`);
  (u as unknown as Record<string, string>)[key] = String(value);
  return urlParse(u.href, undefined);
}

function randomValues(length: unknown): number[] {
  const n = typeof length === 'number' ? length : 0;
  if (n < 0 || n > 65536) throw new RangeError('getRandomValues: at most 65536 bytes');
  return [...randomBytes(n)];
}

/** The table the guest reaches with `host.call(name, argsJson)`. */
export const hostFunctions: Record<string, HostFunction> = {
  sha256Hex,
  hmacSha256Hex,
  hash: hash as HostFunction,
  phoneE164,
  jwtSign,
  jwtVerify,
  urlParse,
  urlSet,
  randomUUID: () => randomUUID(),
  randomValues,
};
