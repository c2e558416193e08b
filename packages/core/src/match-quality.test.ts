import { describe, expect, it } from 'vitest';
import { captureAndRemember } from './identity/capture.js';
import { junkPolicy } from './identity/junk.js';
import {
  destinationIdentifiersSchema,
  identifiersInOutputs,
  matchIncrements,
  matchQualityReport,
  observeMatch,
} from './match-quality.js';

const meta = {
  email: ['user_data.em'],
  fbp: ['user_data.fbp'],
  first_name: ['user_data.fn'],
  ip: ['user_data.client_ip_address'],
};

describe('match quality', () => {
  it('reads what left at the declared paths: strings, numbers and lists holding one; [] walks a list', () => {
    const outputs = [
      { event_payload: { user_data: { em: ['a'.repeat(64)], fbp: '  ', fn: [] } } },
      { event_payload: { userIdentifiers: [{ hashedPhoneNumber: 'b' }, { hashedEmail: 'c' }] } },
    ];
    expect(identifiersInOutputs(meta, outputs)).toEqual(['email']);
    expect(
      identifiersInOutputs(
        { email: ['userIdentifiers[].hashedEmail'], phone: ['userIdentifiers[].x'] },
        outputs,
      ),
    ).toEqual(['email']);
  });

  it('[field=VALUE] keeps the items of a list whose field is VALUE (typed ids, as LinkedIn sends them)', () => {
    const linkedin = {
      email: ['user.userIds[idType=SHA256_EMAIL].idValue'],
      li_fat_id: ['user.userIds[idType=LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID].idValue'],
    };
    const withEmail = [
      { event_payload: { user: { userIds: [{ idType: 'SHA256_EMAIL', idValue: 'e'.repeat(64) }] } } },
    ];
    expect(identifiersInOutputs(linkedin, withEmail)).toEqual(['email']);
    const withTracking = [
      {
        event_payload: {
          user: {
            userIds: [{ idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', idValue: 'df6f-41' }, 'junk'],
          },
        },
      },
    ];
    expect(identifiersInOutputs(linkedin, withTracking)).toEqual(['li_fat_id']);
    expect(destinationIdentifiersSchema.safeParse(linkedin).success).toBe(true);
    expect(destinationIdentifiersSchema.safeParse({ email: ['user.userIds[idType=].idValue'] }).success).toBe(
      false,
    );
    expect(
      destinationIdentifiersSchema.safeParse({ email: ['user.userIds[idType=a b].idValue'] }).success,
    ).toBe(false);
  });

  it('raw is what the incoming event carried by the identifier table; personal fields count as raw when they left', () => {
    const observed = observeMatch(meta, { user_id: 'u1', ip: '203.0.113.7', first_name: 'Jane' }, [
      {
        event_payload: {
          user_data: { em: 'x', fbp: 'fb.1.1.1', fn: 'y', client_ip_address: '203.0.113.7' },
        },
      },
    ]);
    expect(observed).toEqual({ raw: ['first_name', 'ip'], stitched: ['email', 'fbp', 'first_name', 'ip'] });
    // An _fbp cookie on the event itself is raw.
    expect(observeMatch(meta, { cookies: '_fbp=fb.1.1700000000000.42' }, []).raw).toEqual(['fbp']);
  });

  it('reads raw from the capture stitching made of the same payload object, its junk policy included', () => {
    const payload = { external_id: 'crm-1', email: 'jane@shop.example', ip: '203.0.113.7' };
    const declared = { email: ['user_data.em'], external_id: ['user_data.external_id'] };
    // Not captured before: read with the default junk policy, email counts.
    expect(observeMatch(declared, { ...payload }, []).raw).toEqual(['email', 'external_id']);
    // Stitching captured this object with a policy that calls the domain junk: its capture is the one read.
    captureAndRemember(payload, { seenAt: 1, junk: junkPolicy({ emailDomains: ['shop.example'] }) });
    expect(observeMatch(declared, payload, []).raw).toEqual(['external_id']);
  });

  it('refuses identifiers outside the closed list and paths that are not paths', () => {
    expect(destinationIdentifiersSchema.safeParse({ email: ['user_data.em'] }).success).toBe(true);
    expect(destinationIdentifiersSchema.safeParse({ favourite_colour: ['a'] }).success).toBe(false);
    expect(destinationIdentifiersSchema.safeParse({ email: ['user_data..em'] }).success).toBe(false);
    expect(destinationIdentifiersSchema.safeParse({ email: [] }).success).toBe(false);
  });

  it('counts the event once under * and each identifier by stage; the report lists declared ones first', () => {
    expect(matchIncrements({ raw: ['ip'], stitched: ['email', 'ip'] })).toEqual([
      { identifier: '*', raw: 1, stitched: 1 },
      { identifier: 'ip', raw: 1, stitched: 1 },
      { identifier: 'email', raw: 0, stitched: 1 },
    ]);
    const report = matchQualityReport({
      pipeId: 'pip_1',
      window: '1h',
      since: 's',
      until: 'u',
      declared: { email: ['e'], phone: ['p'] },
      rows: [
        { identifier: '*', raw: 4, stitched: 4 },
        { identifier: 'email', raw: 1, stitched: 4 },
        { identifier: 'ttp', raw: 2, stitched: 2 },
      ],
    });
    expect(report.measured).toBe(true);
    expect(report.delivered).toBe(4);
    expect(report.identifiers).toEqual([
      { identifier: 'email', raw: 1, stitched: 4, raw_share: 0.25, stitched_share: 1 },
      { identifier: 'phone', raw: 0, stitched: 0, raw_share: 0, stitched_share: 0 },
      { identifier: 'ttp', raw: 2, stitched: 2, raw_share: 0.5, stitched_share: 0.5 },
    ]);
    const none = matchQualityReport({
      pipeId: 'p',
      window: '7d',
      since: 's',
      until: 'u',
      declared: undefined,
      rows: [],
    });
    expect(none).toMatchObject({ measured: false, delivered: 0, identifiers: [] });
  });
});
