/**
 * `openpipes alerts create|list|update|enable|disable|toggle|test|delete`: Slack, Teams and webhook alert channels.
 * A channel's URL is a credential: read from stdin (`--url-stdin`), never printed.
 */
import type { AlertChannel, AlertSendResult } from '@openpipes/core';
import { alertChannelTypes, alertTriggerKinds } from '@openpipes/core';
import type { Command } from 'commander';
import { type CommandContext, resolveId } from '../context.js';
import { exitCodes, usage } from '../errors.js';
import { printJson, printList, println, readValueFromStdin } from '../io.js';

const collect = (value: string, previous: string[] = []) => [
  ...previous,
  ...value.split(',').filter(Boolean),
];

interface ChannelOptions {
  name?: string;
  type?: string;
  urlStdin?: boolean;
  urlSecret?: string;
  pipe?: string[];
  kind?: string[];
  cooldown?: string;
  failureRate?: string;
  volumeAnomaly?: string;
  successRate?: string;
  description?: string;
  json?: boolean;
}

const settingExamples = {
  failure_rate: '{"threshold":0.25,"window_seconds":300,"min_events":20}',
  volume_anomaly: '{"watch":["source"],"below":0.5,"window_minutes":15,"baseline_days":7}',
  success_rate: '{"threshold":0.9,"window_seconds":600,"min_events":50}',
} as const;

/** The body fields the options give (pipes resolved to ids, URL read from stdin). */
async function channelBody(ctx: CommandContext, options: ChannelOptions): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {};
  if (options.name !== undefined) body.name = options.name;
  if (options.description !== undefined) body.description = options.description;
  if (options.type !== undefined) {
    if (!(alertChannelTypes as readonly string[]).includes(options.type)) {
      throw usage(`--type must be one of ${alertChannelTypes.join(', ')}`);
    }
    body.type = options.type;
  }
  for (const kind of options.kind ?? []) {
    if (!(alertTriggerKinds as readonly string[]).includes(kind)) {
      throw usage(`unknown --kind ${kind}; use ${alertTriggerKinds.join(', ')}`);
    }
  }
  if (options.kind) body.kinds = options.kind;
  if (options.cooldown !== undefined) {
    const seconds = Number(options.cooldown);
    if (!Number.isInteger(seconds) || seconds < 0) throw usage('--cooldown is whole seconds');
    body.cooldown_seconds = seconds;
  }
  const settings = [
    ['--failure-rate', 'failure_rate', options.failureRate],
    ['--volume-anomaly', 'volume_anomaly', options.volumeAnomaly],
    ['--success-rate', 'success_rate', options.successRate],
  ] as const;
  for (const [flag, field, text] of settings) {
    if (text === undefined) continue;
    try {
      body[field] = JSON.parse(text);
    } catch {
      throw usage(`${flag} takes a JSON object, e.g. ${flag} '${settingExamples[field]}'`);
    }
  }
  if (options.pipe) body.pipe_ids = await Promise.all(options.pipe.map((p) => resolveId(ctx, 'pipes', p)));
  if (options.urlStdin && options.urlSecret) throw usage('give --url-stdin or --url-secret, not both');
  if (options.urlSecret) body.url_secret_id = await resolveId(ctx, 'secrets', options.urlSecret);
  if (options.urlStdin) body.url = await readValueFromStdin(ctx.io, 'webhook URL');
  return body;
}

function describeChannel(c: AlertChannel): string[] {
  const last = c.last_delivery
    ? `${c.last_delivery.ok ? 'ok' : 'failed'}${c.last_delivery.status ? ` ${c.last_delivery.status}` : ''} at ${c.last_delivery.at}`
    : 'never sent';
  return [
    c.id,
    c.name,
    c.type,
    c.enabled ? 'yes' : 'no',
    c.pipe_ids.length ? c.pipe_ids.join(',') : 'all',
    last,
  ];
}

/** The options `alerts create` and `alerts update` share. */
function channelOptions(command: Command): Command {
  return command
    .option('--url-stdin', 'read the webhook URL from stdin (it is stored as a secret, never shown)')
    .option('--url-secret <secret>', 'use an existing secret (id or key) holding the URL')
    .option(
      '--pipe <pipe>',
      'watch this pipe (id or name; repeat or comma-separate); default every pipe',
      collect,
    )
    .option('--kind <kind>', `alert on these kinds (${alertTriggerKinds.join(', ')}); repeatable`, collect)
    .option('--cooldown <seconds>', 'at most one message per pipe and kind within this many seconds')
    .option('--failure-rate <json>', `failure_rate settings, e.g. '${settingExamples.failure_rate}'`)
    .option(
      '--volume-anomaly <json>',
      `volume_anomaly settings (with --kind volume_anomaly), e.g. '${settingExamples.volume_anomaly}'`,
    )
    .option(
      '--success-rate <json>',
      `success_rate settings (with --kind success_rate), e.g. '${settingExamples.success_rate}'`,
    )
    .option('--description <text>', 'what the channel is for')
    .option('--json', 'print the channel as JSON');
}

export function registerAlerts(program: Command, ctx: CommandContext): void {
  const alerts = program
    .command('alerts')
    .summary('failure, success-rate and volume alerts to Slack, Teams or a webhook');
  registerCreate(alerts, ctx);
  registerUpdate(alerts, ctx);
  registerList(alerts, ctx);
  registerSetters(alerts, ctx);
  registerTest(alerts, ctx);
  registerDelete(alerts, ctx);
}

/** `alerts create`. */
function registerCreate(alerts: Command, ctx: CommandContext): void {
  channelOptions(
    alerts
      .command('create')
      .description('Create an alert channel.')
      .requiredOption('--name <name>', 'channel name')
      .requiredOption('--type <type>', alertChannelTypes.join(' | ')),
  )
    .addHelpText(
      'after',
      `\nExample:\n  printf '%s' "$SLACK_WEBHOOK_URL" | openpipes alerts create --name ops --type slack --url-stdin`,
    )
    .action(async (options: ChannelOptions) => {
      if (!options.urlStdin && !options.urlSecret) {
        throw usage(
          'give the webhook URL with --url-stdin (or --url-secret)',
          `printf '%s' "$SLACK_WEBHOOK_URL" | openpipes alerts create --name ${options.name} --type ${options.type} --url-stdin`,
        );
      }
      const body = await channelBody(ctx, options);
      const { body: channel } = await ctx
        .client()
        .request<AlertChannel>('POST', '/api/alert-channels', { body });
      if (options.json) printJson(ctx.io, channel);
      else println(ctx.io, `Created alert channel ${channel.name} (${channel.type}): ${channel.id}`);
    });
}

/** `alerts update` (`--url-stdin` rotates the URL). */
function registerUpdate(alerts: Command, ctx: CommandContext): void {
  channelOptions(
    alerts
      .command('update')
      .description('Change an alert channel (--url-stdin rotates its URL).')
      .argument('<channel>', 'channel id (alc_...) or name')
      .option('--name <name>', 'new name'),
  ).action(async (channel: string, options: ChannelOptions) => {
    const id = await resolveId(ctx, 'alert-channels', channel);
    const body = await channelBody(ctx, options);
    if (Object.keys(body).length === 0) throw usage('nothing to change; see openpipes alerts update --help');
    const { body: updated } = await ctx
      .client()
      .request<AlertChannel>('PATCH', `/api/alert-channels/${id}`, { body });
    if (options.json) printJson(ctx.io, updated);
    else println(ctx.io, `Updated alert channel ${updated.name} (${updated.id}), version ${updated.version}`);
  });
}

/** `alerts list`: channels and their last message, never a URL. */
function registerList(alerts: Command, ctx: CommandContext): void {
  alerts
    .command('list')
    .description('List alert channels with the outcome of their last message. Never a URL.')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const all = await ctx.client().listAll<AlertChannel>('/api/alert-channels');
      printList(ctx.io, options.json, all, ['ID', 'NAME', 'TYPE', 'ENABLED', 'PIPES', 'LAST MESSAGE'], () =>
        all.map(describeChannel),
      );
    });
}

/** `alerts enable|disable|toggle`. */
function registerSetters(alerts: Command, ctx: CommandContext): void {
  // `enable` and `disable` send {"enabled": ...}, so running one twice (a retried script) is safe;
  // `toggle` flips whatever the state is now and stays for scripts written against it.
  const setters = [
    ['enable', 'Turn an alert channel on (again: no change).', true],
    ['disable', 'Turn an alert channel off (again: no change).', false],
    [
      'toggle',
      'Flip an alert channel on or off (prefer enable/disable: a retried flip undoes itself).',
      undefined,
    ],
  ] as const;
  for (const [name, description, enabled] of setters) {
    alerts
      .command(name)
      .description(description)
      .argument('<channel>', 'channel id (alc_...) or name')
      .option('--json', 'print JSON')
      .action(async (channel: string, options: { json?: boolean }) => {
        const id = await resolveId(ctx, 'alert-channels', channel);
        const { body } = await ctx.client().request<AlertChannel>('PUT', `/api/alert-channels/${id}/toggle`, {
          body: enabled === undefined ? undefined : { enabled },
        });
        if (options.json) printJson(ctx.io, body);
        else println(ctx.io, `Alert channel ${body.name} is now ${body.enabled ? 'enabled' : 'disabled'}`);
      });
  }
}

/** `alerts test`: a sample alert now; exit code 1 when not accepted. */
function registerTest(alerts: Command, ctx: CommandContext): void {
  alerts
    .command('test')
    .description('Send a sample alert now. Exits 1 when the channel did not accept it.')
    .argument('<channel>', 'channel id (alc_...) or name')
    .option('--json', 'print JSON')
    .action(async (channel: string, options: { json?: boolean }) => {
      const id = await resolveId(ctx, 'alert-channels', channel);
      const { body } = await ctx.client().request<AlertSendResult>('POST', `/api/alert-channels/${id}/test`);
      if (options.json) printJson(ctx.io, body);
      else if (body.ok) println(ctx.io, `Sent: the channel answered ${body.status}`);
      else
        println(
          ctx.io,
          `Not sent: ${body.error ?? 'no answer'}${body.status ? ` (status ${body.status})` : ''}`,
        );
      if (!body.ok) ctx.setExitCode(exitCodes.failure);
    });
}

/** `alerts delete`. */
function registerDelete(alerts: Command, ctx: CommandContext): void {
  alerts
    .command('delete')
    .description('Delete an alert channel (and the secret holding its URL).')
    .argument('<channel>', 'channel id (alc_...) or name')
    .action(async (channel: string) => {
      const id = await resolveId(ctx, 'alert-channels', channel);
      await ctx.client().request('DELETE', `/api/alert-channels/${id}`);
      println(ctx.io, `Deleted alert channel ${id}`);
    });
}
