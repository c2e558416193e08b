/**
 * What the two Google stand-ins (Google Ads in platforms.ts, Data Manager in
 * data-manager-platform.ts) share, for tests only: Google's error envelope (a google.rpc.Status),
 * the OAuth token endpoint that trades the refresh token for access tokens, and the secrets each
 * template binds for those credentials.
 */
import type { RecordedTestRequest, TestResponse } from '@openpipes/core/testing';

/** A google.rpc.Status error answer: HTTP status, gRPC status name, message and the API's details. */
export function googleStatusError(
  status: number,
  grpcStatus: string,
  message: string,
  details: Array<Record<string, unknown>>,
): TestResponse {
  return { status, body: { error: { code: status, message, status: grpcStatus, details } } };
}

/**
 * Google's OAuth token endpoint as the stand-ins answer it. A request that is not form-encoded or
 * not a refresh_token grant breaks the contract (listed in `violations`); a wrong client or refresh
 * token gets Google's refusal; otherwise a new access token `<prefix><n>-<random>`, listed in
 * `issued` and added to `valid`, living `expiresIn()` seconds.
 */
export function googleTokenEndpoint(options: {
  credentials: { clientId: string; clientSecret: string; refreshToken: string };
  violations: string[];
  issued: string[];
  valid: Set<string>;
  prefix: string;
  expiresIn: () => number;
}): (request: RecordedTestRequest) => TestResponse {
  const { credentials, violations, issued, valid } = options;
  const invalid = (why: string, error: string): TestResponse => {
    violations.push(why);
    return { status: 400, body: { error } };
  };
  return (request) => {
    if (!String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return invalid('token requests are form-encoded', 'invalid_request');
    }
    const form = new URLSearchParams(request.text);
    if (form.get('grant_type') !== 'refresh_token') {
      return invalid('grant_type must be refresh_token', 'unsupported_grant_type');
    }
    if (
      form.get('client_id') !== credentials.clientId ||
      form.get('client_secret') !== credentials.clientSecret
    ) {
      return { status: 401, body: { error: 'invalid_client', error_description: 'Unauthorized' } };
    }
    if (form.get('refresh_token') !== credentials.refreshToken) {
      return {
        status: 400,
        body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' },
      };
    }
    const value = `${options.prefix}${issued.length + 1}-${Math.random().toString(36).slice(2)}`;
    issued.push(value);
    valid.add(value);
    return {
      status: 200,
      body: { access_token: value, expires_in: options.expiresIn(), token_type: 'Bearer' },
    };
  };
}

/** The OAuth client and refresh token both Google templates' stand-ins check. */
interface GoogleOAuthCredentials {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

/**
 * The four secrets a Google Ads destination binds, holding `credentials` (the stand-in's).
 *
 * @example
 * ```ts
 * await bed.wire(googleAdsPlatform({ customerId, credentials }), definition, { secrets: googleAdsSecrets(credentials) });
 * ```
 */
export function googleAdsSecrets(credentials: GoogleOAuthCredentials & { developerToken: string }) {
  return {
    GOOGLE_ADS_CLIENT_ID: credentials.clientId,
    GOOGLE_ADS_CLIENT_SECRET: credentials.clientSecret,
    GOOGLE_ADS_REFRESH_TOKEN: credentials.refreshToken,
    GOOGLE_ADS_DEVELOPER_TOKEN: credentials.developerToken,
  };
}

/** The three secrets a Google Data Manager destination binds, holding `credentials` (the stand-in's). */
export function dataManagerSecrets(credentials: GoogleOAuthCredentials) {
  return {
    GOOGLE_DATA_MANAGER_CLIENT_ID: credentials.clientId,
    GOOGLE_DATA_MANAGER_CLIENT_SECRET: credentials.clientSecret,
    GOOGLE_DATA_MANAGER_REFRESH_TOKEN: credentials.refreshToken,
  };
}
