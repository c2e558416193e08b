import type { DestinationDefinition } from '@openpipes/core';
import { z } from 'zod';
import { defineTemplate } from '../define-template.js';
import { batchSizeSchema, destinationNameSchema } from '../settings.js';
import { webhookSendSource, webhookTransformSource } from './sources.js';

/**
 * Most events in one webhook message (one request); `max_batch_size` may be lower (default 100).
 *
 * @example
 * ```ts
 * signedWebhook({ url, maxBatchSize: WEBHOOK_MAX_BATCH_SIZE });
 * ```
 */
export const WEBHOOK_MAX_BATCH_SIZE = 1000;

/** Headers send() writes itself; settings may not override them. */
const reservedHeaders = new Set([
  'content-type',
  'content-length',
  'host',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);

const secretReference = /\{\{secret:([A-Za-z_][A-Za-z0-9_]*)\}\}/g;

const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, 'a header name is a token such as "X-Api-Key"')
  .refine((name) => !reservedHeaders.has(name.toLowerCase()), {
    message: 'content-type, content-length, host and the webhook-* headers are set by send()',
  });

const headerValue = z
  .string()
  .max(8000)
  .refine((value) => !/[\r\n\0]/.test(value), 'a header value may not contain CR, LF or NUL');

/**
 * Settings of the `webhook` template.
 *
 * @example
 * ```ts
 * webhookSettingsSchema.parse({ url: 'https://hooks.example/openpipes', headers: { 'X-Api-Key': '{{secret:HOOK_API_KEY}}' } });
 * ```
 */
export const webhookSettingsSchema = z.object({
  name: destinationNameSchema('webhook'),
  /** The receiver. A private-network address needs the operator's egress allowance (docs/destinations.md). */
  url: z
    .url({ protocol: /^https?$/, error: 'url must be an http(s) URL' })
    .refine((value) => !new URL(value).hash, { message: 'url must not have a fragment' }),
  method: z.enum(['POST', 'PUT', 'PATCH']).default('POST'),
  /**
   * Extra request headers. Settings are exported and shown in plain text: put credentials in a
   * secret and reference it as `{{secret:NAME}}` (bind that secret to the destination too; records
   * show `[secret:NAME]`).
   */
  headers: z.record(headerName, headerValue).default({}),
  max_batch_size: batchSizeSchema(WEBHOOK_MAX_BATCH_SIZE, 100),
});
export type WebhookSettings = z.input<typeof webhookSettingsSchema>;

/** Options of {@link signedWebhook}: the template's settings in camelCase. */
export interface SignedWebhookOptions {
  url: string;
  /** Default `POST`. */
  method?: WebhookSettings['method'];
  /** Extra headers; `{{secret:NAME}}` in a value is replaced by that bound secret. */
  headers?: Record<string, string>;
  /** Default 100, at most 1000 events per message. */
  maxBatchSize?: number;
  /** Default `webhook`. */
  name?: string;
}

/** The secrets a header value references, in order of first use. */
function referencedSecrets(headers: Record<string, string>): string[] {
  const keys = new Set<string>();
  for (const value of Object.values(headers))
    for (const m of value.matchAll(secretReference)) keys.add(m[1]!);
  return [...keys];
}

/**
 * The `webhook` template: `{"events": [...]}` to any HTTP endpoint, signed per Standard Webhooks v1
 * with the bound secret `WEBHOOK_SECRET` (`whsec_<base64>`).
 *
 * @example
 * ```ts
 * const definition = webhookTemplate.create({ url: 'https://hooks.example/openpipes' });
 * ```
 */
export const webhookTemplate = defineTemplate({
  name: 'webhook',
  description:
    'Signed webhook: {"events": [...]} to any URL, Standard Webhooks signatures (webhook-id, -timestamp, -signature)',
  settings: webhookSettingsSchema,
  secrets: (s) => [
    {
      key: 'WEBHOOK_SECRET',
      description:
        'Standard Webhooks signing secret: whsec_ + base64 of 24-64 random bytes; share it with the receiver',
    },
    ...referencedSecrets(s.headers).map((key) => ({
      key,
      description: `Referenced by a header as {{secret:${key}}}`,
    })),
  ],
  maxBatchSize: WEBHOOK_MAX_BATCH_SIZE,
  // It sends whatever the transform leaves in the events; the default transform passes them on.
  testMode: {
    unsupported: 'a webhook has no test mode: point url at a test receiver (or a second destination) instead',
  },
  build: (s) => ({
    send: webhookSendSource({
      url: s.url,
      method: s.method,
      headers: s.headers,
      max_batch_size: s.max_batch_size,
    }),
    transform: webhookTransformSource(),
    description: `Signed webhook, ${s.method} ${new URL(s.url).origin}`,
  }),
});

/**
 * A signed-webhook destination. Bind a `WEBHOOK_SECRET` (`whsec_` + base64 of random bytes), and
 * every secret the headers reference.
 *
 * @example
 * ```ts
 * import { signedWebhook } from '@openpipes/destinations';
 *
 * const hook = signedWebhook({ url: 'https://hooks.example/openpipes', headers: { 'X-Api-Key': '{{secret:HOOK_API_KEY}}' } });
 * const secret = await pipes.secrets.create({ key: 'WEBHOOK_SECRET', value: `whsec_${randomBytes(32).toString('base64')}` });
 * const apiKey = await pipes.secrets.create({ key: 'HOOK_API_KEY', value: process.env.HOOK_API_KEY! });
 * const destination = await pipes.destinations.create({ ...hook.destination, secret_ids: [secret.id, apiKey.id] });
 * ```
 */
export function signedWebhook(options: SignedWebhookOptions): DestinationDefinition {
  return webhookTemplate.fromOptions(options);
}
