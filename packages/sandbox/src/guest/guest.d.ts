/**
 * What the prelude's parts (the .js files here) see besides each other's top-level names, for the
 * type checker only (tsconfig.guest.json). At run time these are the prelude function's parameters
 * and QuickJS's own globals. Not part of the Node build.
 */

/** The three host functions the worker hands to the prelude (context/host-bridge.ts builds them). */
interface PreludeHost {
  /** Calls host function `name` with JSON `args`; the JSON result, or undefined. Throws what it throws. */
  call(name: string, argsJson: string): string | undefined;
  /** Runs one fetch request (JSON) through the host's egress rules; resolves to the response as JSON. */
  fetch(requestJson: string): Promise<string>;
  /** The source of a vetted module bundle; throws "module not available" for any other name. */
  module(name: string): string;
}

declare const host: PreludeHost;
/** Which kind of context this is: only send() contexts get fetch. */
declare const kind: 'transform' | 'send';

/** QuickJS's error for interrupts ("interrupted"), out of memory and stack overflow. */
declare class InternalError extends Error {}

/** A transform or send() a user defined as a global function rather than exporting it. */
declare var __openpipes_entry: unknown;

// The private fields the constructor functions set with define() (non-enumerable, so user code
// that lists an object's keys does not see them), and URL's accessors, which web-globals.js
// defines in a loop: merged into the classes TypeScript infers from the .js files.
interface URLSearchParams {
  _list: [string, string][];
  _url: URL | null;
}
interface URL {
  _p: Record<(typeof URL_PARTS)[number], string>;
  _sp: URLSearchParams;
  href: string;
  origin: string;
  protocol: string;
  username: string;
  password: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  hash: string;
}
interface Headers {
  _m: Map<string, string>;
}
interface Response {
  _body: string;
  _used: boolean;
}
