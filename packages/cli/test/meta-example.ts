/**
 * Test support shared by the CLI and console tests that deliver to Meta: a stand-in for Meta's
 * Conversions API on 127.0.0.1, the admin API as one call (`@openpipes/test-support/admin-api`), and the Meta example set up through
 * that API (source, event type, the two secrets, destination, pipe, both enabled).
 */
import {
  metaExampleSend,
  metaExampleTransform,
  purchaseSchema,
  startTestServer,
} from '@openpipes/core/testing';
import type { AdminCall } from '@openpipes/test-support/admin-api';
import { openpipesOk } from './helpers.js';

export type { TestServer } from '@openpipes/core/testing';
export { type AdminCall, adminApi } from '@openpipes/test-support/admin-api';

/**
 * Starts a stand-in for Meta's Conversions API. With `accepts`, it answers 400 (code 190) unless
 * the body carries that access token (a function is read per request, so a test can rotate it)
 * and, with `pixelId`, the request goes to `/v19.0/<pixelId>/events`; without, it accepts all.
 * It answers `events_received` with the number of events sent.
 */
export function startMetaStandIn(accepts?: { token: string | (() => string); pixelId?: string }) {
  return startTestServer((request) => {
    const body = request.json as { data?: unknown[]; access_token?: string } | undefined;
    if (accepts) {
      const token = typeof accepts.token === 'function' ? accepts.token() : accepts.token;
      const path = accepts.pixelId === undefined ? '' : `/v19.0/${accepts.pixelId}/events`;
      if (body?.access_token !== token || !request.url.startsWith(path)) {
        return { status: 400, body: { error: { message: 'Invalid OAuth access token.', code: 190 } } };
      }
    }
    return { body: { events_received: body?.data?.length ?? 0, fbtrace_id: 'AbC123' } };
  });
}

/**
 * The Meta example through the admin API, as the docs set it up: the `web` source and the
 * `purchase` event type (unless `sourceId` names a source that exists already), the secrets
 * META_ACCESS_TOKEN and META_PIXEL_ID bound to the `meta-capi-prod` destination (sending to
 * `metaUrl`), and the `purchase-to-meta` pipe; pipe and destination enabled.
 */
export async function setupMetaExampleOverApi(
  call: AdminCall,
  options: { metaUrl: string; token: string; pixelId: string; sourceId?: string },
): Promise<{ sourceId: string; destinationId: string; pipeId: string }> {
  let sourceId = options.sourceId;
  if (sourceId === undefined) {
    sourceId = (await call<{ id: string }>('POST', '/api/sources', { name: 'Web', slug: 'web' })).id;
    await call('POST', '/api/event-types', { name: 'purchase', schema: purchaseSchema });
  }
  const token = await call<{ id: string }>('POST', '/api/secrets', {
    key: 'META_ACCESS_TOKEN',
    value: options.token,
  });
  const pixel = await call<{ id: string }>('POST', '/api/secrets', {
    key: 'META_PIXEL_ID',
    value: options.pixelId,
  });
  const destination = await call<{ id: string }>('POST', '/api/event-destinations', {
    name: 'meta-capi-prod',
    send: metaExampleSend(options.metaUrl),
  });
  await call('PUT', `/api/event-destinations/${destination.id}/secrets`, {
    secretIds: [token.id, pixel.id],
  });
  const pipe = await call<{ id: string }>('POST', '/api/pipes', {
    name: 'purchase-to-meta',
    source_id: sourceId,
    destination_id: destination.id,
    transform: metaExampleTransform,
  });
  await call('PUT', `/api/pipes/${pipe.id}/toggle`, { enabled: true });
  await call('PUT', `/api/event-destinations/${destination.id}/toggle`, { enabled: true });
  return { sourceId, destinationId: destination.id, pipeId: pipe.id };
}

/**
 * The Meta example as an `openpipes config import` document: the `web` source, the `purchase`
 * event type, one enabled destination sending to `metaUrl` with META_ACCESS_TOKEN and
 * META_PIXEL_ID (its name and any other settings from `destination`), and the enabled `purchases`
 * pipe into it. The secrets' values are not in the document: create them before the import.
 *
 * @example
 * const doc = metaExampleConfig(meta.url, { name: 'slow-meta', max_batch_size: 5 });
 */
export function metaExampleConfig(metaUrl: string, destination: { name: string } & Record<string, unknown>) {
  const { name, ...settings } = destination;
  return {
    format: 'openpipes-config',
    version: 1,
    sources: [{ name: 'Web', slug: 'web' }],
    event_types: [{ name: 'purchase' }],
    destinations: [
      {
        name,
        send: metaExampleSend(metaUrl),
        secrets: ['META_ACCESS_TOKEN', 'META_PIXEL_ID'],
        ...settings,
        enabled: true,
      },
    ],
    pipes: [
      {
        name: 'purchases',
        source: 'web',
        destination: name,
        transform: metaExampleTransform,
        enabled: true,
      },
    ],
  };
}

/**
 * Creates the two secrets {@link metaExampleConfig}'s destination names through
 * `openpipes secrets create --value-stdin` (the access token given, pixel id `1`); rejects unless
 * both commands exit 0.
 *
 * @example
 * await createMetaSecretsOverCli(serve.env, 'EAAB-test');
 */
export async function createMetaSecretsOverCli(env: Record<string, string>, token: string): Promise<void> {
  for (const [key, value] of [
    ['META_ACCESS_TOKEN', token],
    ['META_PIXEL_ID', '1'],
  ] as const) {
    await openpipesOk(['secrets', 'create', '--key', key, '--value-stdin'], { env, stdin: value });
  }
}
