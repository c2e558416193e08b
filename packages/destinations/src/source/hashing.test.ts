/**
 * The normalisation and hashing the templates paste into their sources, run in the real sandbox
 * and checked against the platforms' published examples (CONTRACTS.md).
 */
import { hashIdentifier } from '@openpipes/core/identity';
import { runSend, runTransform, startTestServer, type TestEvent } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import { googleAdsClickConversions } from '../google-ads/google-ads.js';
import { metaCapi } from '../meta/meta.js';
import { sha256 } from '../testing/sha256.js';
import { tiktokEvents } from '../tiktok/tiktok.js';
import { googleDateTimeSource, timeSource } from './helpers.js';

const publishedEmail = '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f';
const publishedPhone = 'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176';

const event = (payload: Record<string, unknown>, eventType = 'purchase'): TestEvent => ({
  event_type: eventType,
  event_time: new Date().toISOString(),
  event_id: 'ord_1',
  event_payload: payload,
});

const meta = metaCapi({ pixelId: '123456' });
const metaUserData = async (payload: Record<string, unknown>, transform = meta.transform) => {
  const [out] = await runTransform(transform, { events: [event(payload)] });
  return out!.event_payload.user_data as Record<string, unknown>;
};

describe('hashing and normalisation', () => {
  it("hashes Meta's published examples: John_Smith@gmail.com and +1 (650) 555-1212 (16505551212)", async () => {
    const userData = await metaUserData({ email: 'John_Smith@gmail.com', phone: '+1 (650) 555-1212' });
    expect(userData.em).toBe(publishedEmail);
    expect(userData.ph).toBe(publishedPhone);
    expect(sha256('16505551212')).toBe(publishedPhone);
  });

  it('hashes the same email for TikTok and Google, and their phones in E.164 (+16505551212)', async () => {
    const tiktok = tiktokEvents({ pixelCode: 'C4ABCDEFGH' });
    const [tt] = await runTransform(tiktok.transform, {
      events: [event({ email: ' John_Smith@gmail.com', phone: '+1 (650) 555-1212' })],
    });
    expect(tt!.event_payload.user).toMatchObject({ email: publishedEmail, phone: sha256('+16505551212') });

    const google = googleAdsClickConversions({
      customerId: '1234567890',
      conversionActions: { purchase: '1' },
    });
    const [g] = await runTransform(google.transform, {
      events: [event({ email: 'John_Smith@gmail.com', phone: '+1 (650) 555-1212', gclid: 'g' })],
    });
    expect(g!.event_payload.userIdentifiers).toEqual([
      { hashedEmail: publishedEmail },
      { hashedPhoneNumber: sha256('+16505551212') },
    ]);
  });

  it.each([
    ['John.Smith@Gmail.com', '+1 (650) 555-1212'],
    [' al.ice+shop@googlemail.com ', '+44 20 7946 0958'],
    ['Mary.Ann@example.org', '0044 844 412 4653'],
  ])(
    'a profile stores the digests each template computes (%s): Meta, TikTok, Google Ads',
    async (email, phone) => {
      const e = hashIdentifier('email', email, ['sha256', 'sha256_google']);
      const p = hashIdentifier('phone', phone, ['sha256', 'sha256_digits']);
      const userData = await metaUserData({ email, phone });
      expect(userData).toMatchObject({ em: e?.sha256, ph: p?.sha256_digits });
      const [tt] = await runTransform(tiktokEvents({ pixelCode: 'C4ABCDEFGH' }).transform, {
        events: [event({ email, phone })],
      });
      expect(tt!.event_payload.user).toMatchObject({ email: e?.sha256, phone: p?.sha256 });
      const google = googleAdsClickConversions({
        customerId: '1234567890',
        conversionActions: { purchase: '1' },
      });
      const [g] = await runTransform(google.transform, { events: [event({ email, phone, gclid: 'g' })] });
      expect(g!.event_payload.userIdentifiers).toEqual([
        { hashedEmail: e?.sha256_google },
        { hashedPhoneNumber: p?.sha256 },
      ]);
    },
  );

  it('passes SHA-256 digests through (lowercased) and never hashes ip, user agent, fbc, fbp, ttp, ttclid', async () => {
    const upper = publishedEmail.toUpperCase();
    const userData = await metaUserData({
      email: upper,
      ip: '203.0.113.7',
      user_agent: 'Mozilla/5.0',
      fbc: 'fb.1.1714816462.IwAR0abc',
      fbp: 'fb.1.1714816462.1234567890',
    });
    expect(userData).toEqual({
      em: publishedEmail,
      client_ip_address: '203.0.113.7',
      client_user_agent: 'Mozilla/5.0',
      fbc: 'fb.1.1714816462.IwAR0abc',
      fbp: 'fb.1.1714816462.1234567890',
    });
    const [tt] = await runTransform(tiktokEvents({ pixelCode: 'C4ABCDEFGH' }).transform, {
      events: [event({ ttp: 'ttp-cookie', ttclid: 'E.C.P.abc', ip: '::1', user_agent: 'UA' })],
    });
    expect(tt!.event_payload.user).toEqual({
      ttp: 'ttp-cookie',
      ttclid: 'E.C.P.abc',
      ip: '::1',
      user_agent: 'UA',
    });
  });

  it('normalises names, city, state, zip, country, gender and date of birth as Meta documents', async () => {
    const userData = await metaUserData({
      first_name: ' Mary-Ann ',
      last_name: "O'Neil",
      city: 'São Paulo 2',
      state: 'C.A.',
      zip: '94025 -1234',
      country: ' US ',
      gender: 'Female',
      date_of_birth: '1990-01-31',
      external_id: ' cust-42 ',
    });
    expect(userData).toEqual({
      fn: sha256('maryann'),
      ln: sha256('oneil'),
      ct: sha256('sãopaulo'),
      st: sha256('ca'),
      zp: sha256('94025'),
      country: sha256('us'),
      ge: sha256('f'),
      db: sha256('19900131'),
      external_id: sha256('cust-42'),
    });
  });

  it('completes national phone numbers with default_country, and drops them without one', async () => {
    const withCountry = metaCapi({ pixelId: '123456', defaultCountry: 'US' });
    expect((await metaUserData({ phone: '(650) 555-1212' }, withCountry.transform)).ph).toBe(publishedPhone);
    expect((await metaUserData({ phone: '0044 20 7946 0958' })).ph).toBe(sha256('442079460958'));
    expect(await metaUserData({ phone: '0601 123 456', ip: '203.0.113.7' })).toEqual({
      client_ip_address: '203.0.113.7',
    });
  });

  it('send() hashes personal data a transform left raw', async () => {
    const server = await startTestServer(() => ({ body: { events_received: 1 } }));
    try {
      const { send } = metaCapi({ pixelId: '123456', baseUrl: server.url }).destination;
      await runSend(send, {
        events: [
          event({
            event_name: 'Purchase',
            event_time: Math.floor(Date.now() / 1000),
            action_source: 'website',
            user_data: {
              em: ['John_Smith@gmail.com', publishedEmail],
              ph: '+1 (650) 555-1212',
              client_user_agent: 'UA',
            },
          }),
        ],
        secrets: { META_ACCESS_TOKEN: 'token' },
        fetch: globalThis.fetch,
      });
      const sent = (server.requests[0]!.json as { data: Array<{ user_data: unknown }> }).data[0]!.user_data;
      expect(sent).toEqual({
        em: [publishedEmail, publishedEmail],
        ph: publishedPhone,
        client_user_agent: 'UA',
      });
    } finally {
      await server.close();
    }
  });

  it("writes Google's conversion_date_time as yyyy-mm-dd hh:mm:ss+hh:mm", async () => {
    const code = `${timeSource}${googleDateTimeSource}
function transform({ events }) {
  return events.map((e) => ({ ...e, event_payload: { out: googleDateTime(e.event_payload.in) } }));
}`;
    const cases: Array<[unknown, string]> = [
      ['2026-05-04T10:14:22.481Z', '2026-05-04 10:14:22+00:00'],
      ['2026-05-04 10:14:22.481+00:00', '2026-05-04 10:14:22+00:00'],
      ['2026-05-04T12:14:22+0200', '2026-05-04 12:14:22+02:00'],
      ['2026-05-04 03:14:22-07:00', '2026-05-04 03:14:22-07:00'],
      [1777889662, '2026-05-04 10:14:22+00:00'],
      [1777889662481, '2026-05-04 10:14:22+00:00'],
    ];
    const out = await runTransform(code, { events: cases.map(([input]) => event({ in: input })) });
    expect(out.map((o) => o.event_payload.out)).toEqual(cases.map(([, expected]) => expected));
  });
});
