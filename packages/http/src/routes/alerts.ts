/** `/api/alert-channels`: where failure alerts go (Slack, Teams, a webhook). */
import {
  alertChannelConfigSchema,
  alertChannelDeliverySchema,
  alertChannelInputSchema,
  alertChannelSchema,
  type Pipes,
} from '@openpipes/core';
import { patchSchema, responseComponent } from '../components.js';
import { defineRoute, type Route, reply } from '../route.js';
import { collectionRoutes, collectionSchemas } from './collections.js';

export const alertChannelSchemas = collectionSchemas('AlertChannel', {
  entity: alertChannelSchema,
  // The webhook is `url` or `url_secret_id`, exactly one of them (the engine refuses both or none).
  input: alertChannelInputSchema.meta({ oneOf: [{ required: ['url'] }, { required: ['url_secret_id'] }] }),
  patch: patchSchema(alertChannelInputSchema).meta({ not: { required: ['url', 'url_secret_id'] } }),
  version: responseComponent('AlertChannelConfig', alertChannelConfigSchema),
});

export function alertRoutes(pipes: Pipes): Route[] {
  const channels = pipes.alerts.channels;
  return [
    ...collectionRoutes({
      path: 'alert-channels',
      idKind: 'alert_channel',
      label: 'alert channel',
      tag: 'Alerts',
      schemas: alertChannelSchemas,
      registry: channels,
      toggle: (id, enabled, actor) => channels.toggle(id, enabled, actor),
      // The webhook URL is a secret: never echoed in an error or a log line.
      sensitive: ['url'],
    }),
    defineRoute({
      method: 'POST',
      path: '/api/alert-channels/{id}/test',
      summary: 'Send a sample alert to a channel now; answers what the channel answered.',
      tag: 'Alerts',
      access: 'write',
      responses: {
        200: {
          description: 'The outcome (a failed send is an answer, not an error).',
          schema: alertChannelDeliverySchema,
        },
      },
      async handle({ params, actor }) {
        return reply(200, await channels.test(params.id, actor));
      },
    }),
  ];
}
