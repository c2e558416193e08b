import { describe, expect, it } from 'vitest';
import { mayStore, mergeConsent } from './consent.js';

describe('the consent state', () => {
  it("normalises gtag's words and booleans to the canonical GRANTED / DENIED", () => {
    expect(
      mergeConsent(
        {},
        {
          ad_storage: 'granted',
          analytics_storage: false,
          ad_user_data: 'GRANTED',
          ad_personalization: true,
        },
      ),
    ).toEqual({
      ad_storage: 'GRANTED',
      analytics_storage: 'DENIED',
      ad_user_data: 'GRANTED',
      ad_personalization: 'GRANTED',
    });
  });

  it('updates only the signals given and ignores values it cannot read', () => {
    const state = mergeConsent({ ad_storage: 'DENIED', ad_user_data: 'DENIED' }, { ad_storage: 'granted' });
    expect(state).toEqual({ ad_storage: 'GRANTED', ad_user_data: 'DENIED' });
    expect(
      mergeConsent(state, { ad_user_data: 'maybe' as never, tcf_string: 'CP1', limited_data_use: true }),
    ).toEqual({
      ...state,
      tcf_string: 'CP1',
      limited_data_use: true,
    });
  });

  it('lets the tag keep identifiers on the device unless the purpose is explicitly denied', () => {
    expect(mayStore({}, 'ad_storage')).toBe(true);
    expect(mayStore({ ad_storage: 'GRANTED' }, 'ad_storage')).toBe(true);
    expect(mayStore({ ad_storage: 'DENIED' }, 'ad_storage')).toBe(false);
    expect(mayStore({ ad_storage: 'DENIED' }, 'analytics_storage')).toBe(true);
  });
});
