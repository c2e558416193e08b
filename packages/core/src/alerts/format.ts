/**
 * One {@link Alert}, three wire formats:
 *
 * - `slack`: an incoming-webhook message, `{ text, blocks }`. `text` is the plain fallback Slack
 *   shows in notifications; `blocks` are Block Kit (header ≤ 150 characters, section text ≤ 3000,
 *   at most 10 fields of ≤ 2000). Text we did not write (names, errors) is escaped, because Slack
 *   reads `<`, `>` and `&` as markup (`<!channel>` would ping everyone).
 * - `teams`: what a Microsoft Teams Workflows webhook ("When a Teams webhook request is received")
 *   posts: `{ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive',
 *   content: <Adaptive Card 1.4> }] }`. Workflows take Adaptive Cards only, not the old MessageCard.
 * - `webhook`: the alert as generic JSON, plus `event_action` (`trigger` / `resolve`) and a stable
 *   `dedup_key`, which is what PagerDuty- and Opsgenie-style receivers group and close incidents on.
 */
import type { Alert, AlertChannelType } from './schemas.js';

/** Cuts text to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Escapes what Slack's mrkdwn treats as markup. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const slackIcon: Record<Alert['severity'], string> = {
  critical: ':rotating_light:',
  warning: ':warning:',
  resolved: ':white_check_mark:',
  info: ':information_source:',
};

/** Longest error text shown in a message; platforms' bodies can be long. */
const errorMax = 1500;

interface Fact {
  title: string;
  value: string;
  link?: string | null;
}

function facts(alert: Alert): Fact[] {
  const out: Fact[] = [];
  if (alert.pipe) out.push({ title: 'Pipe', value: `${alert.pipe.name} (${alert.pipe.id})` });
  if (alert.destination) {
    out.push({ title: 'Destination', value: `${alert.destination.name} (${alert.destination.id})` });
  }
  out.push({
    title: 'Count',
    value: alert.folded > 0 ? `${alert.count} (${alert.folded} folded in)` : `${alert.count}`,
  });
  if (alert.example_delivery_id) {
    out.push({
      title: 'Example delivery',
      value: alert.example_delivery_id,
      link: alert.example_delivery_url,
    });
  }
  if (alert.incident_started_at) out.push({ title: 'Since', value: alert.incident_started_at });
  if (alert.paused_until && alert.status === 'firing')
    out.push({ title: 'Paused until', value: alert.paused_until });
  return out;
}

const errorText = (alert: Alert) =>
  alert.error ? truncate(`${alert.error.code}: ${alert.error.message}`, errorMax) : null;

/**
 * A Slack incoming-webhook message.
 *
 * @example
 * ```ts
 * await fetch(slackWebhookUrl, { method: 'POST', body: JSON.stringify(toSlack(alert)) });
 * ```
 */
export function toSlack(alert: Alert): { text: string; blocks: Array<Record<string, unknown>> } {
  const icon = slackIcon[alert.severity];
  const blocks: Array<Record<string, unknown>> = [
    { type: 'header', text: { type: 'plain_text', text: truncate(`${alert.title}`, 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(`${icon} ${escapeSlack(alert.text)}`, 3000) } },
    {
      type: 'section',
      fields: facts(alert)
        .slice(0, 10)
        .map((fact) => ({
          type: 'mrkdwn',
          text: truncate(
            `*${fact.title}*\n${
              fact.link ? `<${escapeSlack(fact.link)}|${escapeSlack(fact.value)}>` : escapeSlack(fact.value)
            }`,
            2000,
          ),
        })),
    },
  ];
  const error = errorText(alert);
  if (error) {
    // A code block keeps the platform's text as it came; its own ``` must not end the block early.
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(`*Error*\n\`\`\`${escapeSlack(error).replace(/```/g, "'''")}\`\`\``, 3000),
      },
    });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: escapeSlack(`OpenPipes · ${alert.kind} · ${alert.at}`) }],
  });
  const fallback = `${alert.title}: ${alert.text}${error ? ` ${error}` : ''}`;
  return { text: truncate(escapeSlack(fallback), 3000), blocks };
}

const teamsColor: Record<Alert['severity'], string> = {
  critical: 'Attention',
  warning: 'Warning',
  resolved: 'Good',
  info: 'Accent',
};

/**
 * A Teams Workflows webhook message carrying an Adaptive Card (schema 1.4).
 *
 * @example
 * ```ts
 * await fetch(teamsWorkflowUrl, { method: 'POST', body: JSON.stringify(toTeams(alert)) });
 * ```
 */
export function toTeams(alert: Alert): {
  type: 'message';
  attachments: Array<{ contentType: string; contentUrl: null; content: Record<string, unknown> }>;
} {
  const body: Array<Record<string, unknown>> = [
    {
      type: 'TextBlock',
      text: truncate(alert.title, 300),
      weight: 'Bolder',
      size: 'Medium',
      color: teamsColor[alert.severity],
      wrap: true,
    },
    { type: 'TextBlock', text: truncate(alert.text, 2000), wrap: true },
    {
      type: 'FactSet',
      facts: facts(alert).map((fact) => ({ title: fact.title, value: truncate(fact.value, 500) })),
    },
  ];
  const error = errorText(alert);
  if (error) {
    body.push({ type: 'TextBlock', text: 'Error', weight: 'Bolder', wrap: true, spacing: 'Medium' });
    body.push({ type: 'TextBlock', text: error, fontType: 'Monospace', wrap: true });
  }
  body.push({
    type: 'TextBlock',
    text: `OpenPipes · ${alert.kind} · ${alert.at}`,
    isSubtle: true,
    size: 'Small',
    wrap: true,
  });
  const content: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body,
  };
  if (alert.example_delivery_url) {
    content.actions = [
      { type: 'Action.OpenUrl', title: 'Open the delivery record', url: alert.example_delivery_url },
    ];
  }
  return {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }],
  };
}

/** The generic webhook body. */
export interface WebhookAlertBody extends Alert {
  source: 'openpipes';
  /** Body format version. */
  schema_version: 1;
  /** `trigger` for firing and test alerts, `resolve` for recoveries (same `dedup_key`). */
  event_action: 'trigger' | 'resolve';
  channel: { id: string; name: string };
}

/**
 * The generic JSON body.
 *
 * @example
 * ```ts
 * toWebhook(alert, { id: channel.id, name: channel.name }); // { source: 'openpipes', event_action: 'trigger', dedup_key: 'openpipes:pipe:pip_…', ... }
 * ```
 */
export function toWebhook(alert: Alert, channel: { id: string; name: string }): WebhookAlertBody {
  return {
    source: 'openpipes',
    schema_version: 1,
    event_action: alert.status === 'resolved' ? 'resolve' : 'trigger',
    channel,
    ...alert,
    error: alert.error ? { code: alert.error.code, message: truncate(alert.error.message, 4000) } : null,
  };
}

/** The request body for a channel type. */
export function formatAlert(
  type: AlertChannelType,
  alert: Alert,
  channel: { id: string; name: string },
): Record<string, unknown> {
  switch (type) {
    case 'slack':
      return toSlack(alert);
    case 'teams':
      return toTeams(alert);
    case 'webhook':
      return toWebhook(alert, channel) as unknown as Record<string, unknown>;
  }
}
