import { describe, expect, it } from 'vitest';
import { clientAddress } from './client-address.js';

describe("the client's address", () => {
  it('is the peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddress('198.51.100.4', '203.0.113.7')).toBe('198.51.100.4');
    expect(clientAddress('198.51.100.4', '203.0.113.7', ['10.0.0.2'])).toBe('198.51.100.4');
    expect(clientAddress('::ffff:198.51.100.4', null)).toBe('198.51.100.4');
    expect(clientAddress(undefined, '203.0.113.7', ['10.0.0.2'])).toBeNull();
  });

  it('reads X-Forwarded-For from the right, past every trusted proxy, to the first untrusted address', () => {
    const trusted = ['10.0.0.2', '10.0.0.9'];
    expect(clientAddress('10.0.0.2', '203.0.113.7', trusted)).toBe('203.0.113.7');
    expect(clientAddress('::ffff:10.0.0.2', '203.0.113.7, 10.0.0.9', trusted)).toBe('203.0.113.7');
    // What the client wrote itself sits left of what our proxies appended: it is not believed.
    expect(clientAddress('10.0.0.2', '1.2.3.4, 203.0.113.7, 10.0.0.9', trusted)).toBe('203.0.113.7');
    expect(clientAddress('10.0.0.2', '2001:db8::1', trusted)).toBe('2001:db8::1');
  });

  it('stops at a hop that is not an address, keeping the last one a trusted proxy vouched for', () => {
    expect(clientAddress('10.0.0.2', 'evil, <script>', ['10.0.0.2'])).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.2', '', ['10.0.0.2'])).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.2', '203.0.113.7, 10.0.0.9:443', ['10.0.0.2', '10.0.0.9'])).toBe('10.0.0.2');
  });

  it('keeps what the trusted proxy appended when the client pads X-Forwarded-For past the read limit', () => {
    // The client writes 4 KB of its own hops ending in the address it wants to be; our proxy appends
    // the real one on the right. Only the right end may be kept.
    const padding = '9.9.9.9, '.repeat(454);
    const forged = `${padding}66.66.6.66`;
    expect(forged.length).toBe(4096);
    const header = `${forged}, 203.0.113.7`;
    expect(clientAddress('10.0.0.2', header, ['10.0.0.2'])).toBe('203.0.113.7');
    // Cut through the middle of an address: the partial piece on the left is never taken as one.
    const trustedHops = Array(400).fill('10.0.0.2').join(', ');
    expect(clientAddress('10.0.0.2', `201.2.3.4, ${trustedHops}`, ['10.0.0.2'])).not.toBe('1.2.3.4');
  });
});
