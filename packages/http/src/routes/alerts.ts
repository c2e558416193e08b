/** `/api/alert-channels`: where failure alerts go (Slack, Teams, a webhook). */
import { alertChannelDeliverySchema, type Pipes } from '@openpipes/core';
import { json, type Route } from '../route.js';
import { collectionRoutes, idParam } from './collections.js';

export function alertRoutes(pipes: Pipes): Route[] {
  return [
    ...collectionRoutes({
      path: 'alert-channels',
      idKind: 'alert_channel',
      entity: 'AlertChannel',
      label: 'alert channel',
      tag: 'Alerts',
      registry: pipes.alerts.channels,
      toggle: true,
      // The webhook URL is a secret: never echoed in an error or a log line.
      async create(context, body) {
        if (typeof body.url === 'string') context.sensitive.push(body.url);
        return json(201, await pipes.alerts.channels.create(body as never, context.actor));
      },
      checkPatch(body, context) {
        if (typeof body.url === 'string') context.sensitive.push(body.url);
      },
    }),
    {
      method: 'POST',
      path: `/api/alert-channels/${idParam}/test`,
      summary: 'Send a sample alert to a channel now; answers what the channel answered.',
      tag: 'Alerts',
      access: 'write',
      responses: {
        200: {
          description: 'The outcome (a failed send is an answer, not an error).',
          schema: alertChannelDeliverySchema,
        },
      },
      async handle(context) {
        return json(200, await pipes.alerts.channels.test(context.params.id!, context.actor));
      },
    },
  ];
}
