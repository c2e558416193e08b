/**
 * The guest OAuth 1.0a signer (oauth1.js) in the real sandbox, against the published vectors:
 * X's "Creating a signature" page and RFC 5849 §1.2, and the oauth-1.0a library as an oracle.
 */
import { runSend } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import { oracleSignature } from '../testing/x-platform.js';
import { oauth1Source } from './sources.js';

/** Runs `expression` in a send() beside oauth1.js and resolves to its value. */
async function guest(expression: string): Promise<unknown> {
  const code = `${oauth1Source}\nasync function send() { return ${expression}; }`;
  const { value } = await runSend(code, {
    events: [
      { event_type: 'vector', event_id: 'v', event_time: new Date().toISOString(), event_payload: {} },
    ],
  });
  return value;
}

// X's example (developer.x.com, "Creating a signature").
const x = {
  consumerKey: 'xvz1evFS4wEEPTGEFPHBog',
  consumerSecret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
  token: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb',
  tokenSecret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE',
  nonce: 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg',
  timestamp: 1318622958,
  status: 'Hello Ladies + Gentlemen, a signed OAuth request!',
};

const xHeader = (host: string) =>
  guest(
    `oauthHeader(${JSON.stringify({
      method: 'POST',
      url: `https://${host}/1.1/statuses/update.json?include_entities=true`,
      consumerKey: x.consumerKey,
      consumerSecret: x.consumerSecret,
      token: x.token,
      tokenSecret: x.tokenSecret,
      fixed: { nonce: x.nonce, timestamp: x.timestamp },
      extraParams: [['status', x.status]],
    })})`,
  );

describe('OAuth 1.0a signing in the sandbox', () => {
  it("gives X's published signature for its example request (hCtSmYh+iHYCEqBWrE7C7hYmtUk=)", async () => {
    const header = (await xHeader('api.twitter.com')) as string;
    expect(header).toContain('oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"');
    expect(header).toBe(
      'OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", ' +
        'oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", ' +
        'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D", oauth_signature_method="HMAC-SHA1", ' +
        'oauth_timestamp="1318622958", oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", ' +
        'oauth_version="1.0"',
    );
    // The same request to api.x.com (the host is part of what is signed).
    expect(await xHeader('api.x.com')).toContain(
      `oauth_signature="${encodeURIComponent('Ls93hJiZbQ3akF3HF3x1Bz8/zU4=')}"`,
    );
  });

  it("builds X's published signature base string, percent-encoding per RFC 5849 §3.6", async () => {
    const base = await guest(
      `signatureBaseString('POST', 'https://api.twitter.com/1.1/statuses/update.json?include_entities=true', ${JSON.stringify(
        {
          oauth_consumer_key: x.consumerKey,
          oauth_nonce: x.nonce,
          oauth_signature_method: 'HMAC-SHA1',
          oauth_timestamp: String(x.timestamp),
          oauth_token: x.token,
          oauth_version: '1.0',
        },
      )}, [['status', ${JSON.stringify(x.status)}]])`,
    );
    expect(base).toBe(
      'POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26' +
        'oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26' +
        'oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26' +
        'oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26' +
        'status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521',
    );
  });

  it('gives the RFC 5849 §1.2 signature (GET with query, no oauth_version)', async () => {
    const signature = await guest(
      `hmacSha1Signature(signatureBaseString('GET', 'http://photos.example.net/photos?file=vacation.jpg&size=original', ${JSON.stringify(
        {
          oauth_consumer_key: 'dpf43f3p2l4k3l03',
          oauth_token: 'nnch734d00sl2jdk',
          oauth_signature_method: 'HMAC-SHA1',
          oauth_timestamp: '137131202',
          oauth_nonce: 'chapoH',
        },
      )}), 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00')`,
    );
    expect(signature).toBe('MdpQcU8iPSUjWoN/UDMsK2sui9I=');
  });

  it("encodes reserved and non-ASCII characters as RFC 5849 says (!*'() included, ~ not)", async () => {
    const encoded = await guest(`oauthEncode("a b!*'()~-._+/=&é☃")`);
    expect(encoded).toBe('a%20b%21%2A%27%28%29~-._%2B%2F%3D%26%C3%A9%E2%98%83');
  });

  it('agrees with the oauth-1.0a library on a request with awkward query values and secrets', async () => {
    const credentials = {
      consumerKey: 'ck with space',
      consumerSecret: "cs!*'()&=",
      token: '1234-tok~en',
      tokenSecret: 'ts/+é',
    };
    const url = 'https://ads-api.x.com:443/12/measurement/conversions/o8z6j?b=2&a=1&a=0&q=x%20y%21';
    const header = (await guest(
      `oauthHeader(${JSON.stringify({ method: 'POST', url, ...credentials, fixed: { nonce: 'n0nce', timestamp: 1700000000 } })})`,
    )) as string;
    const expected = oracleSignature(
      credentials,
      {
        method: 'POST',
        url: 'https://ads-api.x.com/12/measurement/conversions/o8z6j?b=2&a=1&a=0&q=x%20y%21',
      },
      'n0nce',
      1700000000,
    );
    expect(header).toContain(`oauth_signature="${encodeURIComponent(expected)}"`);
  });
});
