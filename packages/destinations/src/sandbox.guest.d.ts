/**
 * The sandbox globals the destinations' guest code (the .js files of this package) uses, for the
 * type checker only (src/<platform>/tsconfig.guest.json): what the QuickJS prelude of
 * @openpipes/sandbox installs (docs/sandbox.md lists all of it). Not part of the Node build.
 */

declare const openpipes: {
  /** SHA-256 hex of a string, or of each string of an array with ONE host call. */
  sha256Hex<T extends string | string[]>(value: T): T;
  /** E.164 ('+16505551212') of a phone number, or null when it is not a valid number. */
  phoneE164(raw: string, country?: string): string | null;
  /** HMAC-SHA256 hex; the key may be bytes (a whsec_ secret's decoded bytes). */
  hmacSha256Hex(key: string | Uint8Array, value: string): string;
};

interface GuestResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** fetch in send() contexts: the host applies the egress rules. */
declare function fetch(
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<GuestResponse>;

declare const console: {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
};

declare class URLSearchParams {
  constructor(init?: string | Record<string, string> | [string, string][]);
  append(name: string, value: string): void;
  get(name: string): string | null;
  set(name: string, value: string): void;
  toString(): string;
}

/** base64 -> a string of bytes (Latin1). */
declare function atob(data: string): string;

/** a string of bytes (Latin1) -> base64. */
declare function btoa(data: string): string;

/** The host-backed `node:crypto` subset (docs/sandbox.md, "Vetted modules"); keys may be bytes. */
declare function require(name: 'node:crypto' | 'crypto'): {
  createHmac(
    algorithm: string,
    key: string | Uint8Array,
  ): {
    update(data: string | Uint8Array): { digest(encoding?: 'hex' | 'base64' | 'base64url'): string };
  };
  randomUUID(): string;
};
