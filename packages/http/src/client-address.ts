/**
 * The address of the client that sent a request: the connection's peer, unless that peer is a proxy
 * the operator named (`createHandler(pipes, { trustedProxies })`), in which case `X-Forwarded-For` is
 * read from the right, past every trusted proxy, to the first address no trusted proxy vouches for.
 * A header from anyone else is ignored: a client could write any address into it.
 */

/** An address as compared: lower case, without an IPv4-mapped IPv6 prefix or an IPv6 zone. */
function normalise(address: string): string {
  const text = address.trim().toLowerCase().replace(/%.*$/, '');
  return text.startsWith('::ffff:') && text.includes('.') ? text.slice(7) : text;
}

/** Characters of `X-Forwarded-For` read, from its right end. */
const maxForwardedFor = 4096;

/** A plain IPv4 or IPv6 address (no port, no brackets): what may be returned as one. */
const addressShape = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:.]*)$/;

/**
 * The client's address, or null when the peer is unknown (a fetch runtime that does not say).
 *
 * @example
 * ```ts
 * clientAddress('10.0.0.2', '203.0.113.7, 10.0.0.9', ['10.0.0.2', '10.0.0.9']); // '203.0.113.7'
 * clientAddress('198.51.100.4', '203.0.113.7', ['10.0.0.2']); // '198.51.100.4': not a trusted proxy
 * ```
 */
export function clientAddress(
  peer: string | null | undefined,
  forwardedFor: string | null,
  trustedProxies: readonly string[] = [],
): string | null {
  if (!peer) return null;
  const trusted = new Set(trustedProxies.map(normalise));
  let client = normalise(peer);
  if (!trusted.has(client) || !forwardedFor) return client;
  // Right to left: each trusted proxy appended the address it received the request from. Only the
  // right end of a long header is read: the left end is what the client wrote itself, and keeping
  // the left end let a client pad its own hops past the limit to push out what our proxy appended.
  // A piece cut at the left is dropped, never read as an address ("201.2.3.4" cut to "1.2.3.4").
  let list = forwardedFor;
  if (list.length > maxForwardedFor) {
    list = list.slice(-maxForwardedFor);
    list = list.slice(list.indexOf(',') + 1);
  }
  const hops = list.split(',').map(normalise).reverse();
  for (const hop of hops) {
    if (!addressShape.test(hop)) return client;
    client = hop;
    if (!trusted.has(hop)) return hop;
  }
  return client;
}
