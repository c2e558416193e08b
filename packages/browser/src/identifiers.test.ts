// The tag's copy of the identifier table against core's (docs/identifiers.md): the same URL
// parameters, cookies, formats and windows for every kind a browser can read.
import { IDENTIFIERS } from '@openpipes/core/identity';
import { describe, expect, it } from 'vitest';
import { BROWSER_IDENTIFIERS } from './identifiers.js';

describe("the tag's identifier table", () => {
  it("is core's table for every kind with a URL parameter or a cookie, but the ids the tag keeps itself", () => {
    const fromCore = IDENTIFIERS.filter(
      (spec) =>
        (spec.urlParams.length > 0 || spec.cookies.length > 0) &&
        spec.kind !== 'user_id' &&
        spec.kind !== 'anonymous_id',
    ).map((spec) => ({
      field: spec.field,
      urlParams: spec.urlParams,
      cookies: spec.cookies,
      windowDays: spec.windowDays,
    }));
    const ours = BROWSER_IDENTIFIERS.map(({ purpose: _purpose, ...rest }) => rest);
    expect(ours).toEqual(fromCore);
  });

  it('reads only the Google Analytics client id under analytics storage; every other id is an ad identifier', () => {
    expect(
      BROWSER_IDENTIFIERS.filter((id) => id.purpose === 'analytics_storage').map((id) => id.field),
    ).toEqual(['client_id']);
  });
});
