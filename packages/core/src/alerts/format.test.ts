import { describe, expect, it } from 'vitest';
import { checkSlackMessage, checkTeamsMessage } from '../testing/stand-ins.js';
import { toSlack, toTeams, toWebhook } from './format.js';
import { deliveryUrl, noticeAlert, recoveryAlert, testAlert } from './message.js';

const subjects = {
  pipe: { id: 'pip_01', name: 'purchase-to-meta' },
  destination: { id: 'dst_01', name: 'meta-capi-prod' },
};
const failing = noticeAlert(
  {
    kind: 'pipe_failing',
    count: 1,
    folded: 0,
    example: {
      delivery_id: 'evd_01',
      error: {
        code: 'HTTP_400',
        message:
          'HTTP 400: {"error":{"message":"Invalid parameter","error_user_msg":"Event Timestamp Too Old"}}',
      },
    },
    opening: true,
    still_open: true,
    incident_started_at: Date.parse('2026-05-04T10:14:22.481Z'),
  },
  subjects,
  'https://pipes.example.com/',
  Date.parse('2026-05-04T10:14:22.481Z'),
);

describe('alert messages', () => {
  it('name the pipe, the destination, the error, a count and the example delivery with its link', () => {
    expect(failing).toMatchObject({
      kind: 'pipe_failing',
      status: 'firing',
      title: 'Pipe "purchase-to-meta" is failing',
      pipe: subjects.pipe,
      destination: subjects.destination,
      count: 1,
      example_delivery_id: 'evd_01',
      example_delivery_url: 'https://pipes.example.com/api/event-deliveries/evd_01',
      dedup_key: 'openpipes:pipe:pip_01',
    });
    expect(failing.text).toContain('"meta-capi-prod"');
    expect(failing.error?.message).toContain('Event Timestamp Too Old');
    expect(deliveryUrl(null, 'evd_01')).toBeNull();
  });

  it('formats a Slack incoming-webhook message: fallback text and valid Block Kit', () => {
    const message = toSlack(failing);
    expect(checkSlackMessage(message)).toEqual([]);
    expect(message.text).toContain('purchase-to-meta');
    const json = JSON.stringify(message.blocks);
    expect(json).toContain('<https://pipes.example.com/api/event-deliveries/evd_01|evd_01>');
    expect(json).toContain('Event Timestamp Too Old');
    expect(json).toContain('meta-capi-prod');
  });

  it('escapes Slack markup in names and errors, and keeps within Slack limits', () => {
    const hostile = noticeAlert(
      {
        kind: 'delivery_dead',
        count: 3,
        folded: 2,
        example: {
          delivery_id: 'evd_02',
          error: { code: 'X', message: `<!channel> ${'a'.repeat(10_000)} \`\`\`` },
        },
        opening: true,
        still_open: true,
        incident_started_at: 0,
      },
      { pipe: { id: 'pip_02', name: '<!here> & <@U123>'.padEnd(300, 'x') }, destination: null },
      null,
      0,
    );
    const message = toSlack(hostile);
    expect(checkSlackMessage(message)).toEqual([]);
    // mrkdwn (and the fallback text) would turn these into mentions; plain_text shows them as typed.
    const mrkdwn: string[] = [message.text];
    JSON.stringify(message.blocks, (_key, value) => {
      if (value && typeof value === 'object' && value.type === 'mrkdwn') mrkdwn.push(value.text);
      return value;
    });
    expect(mrkdwn.length).toBeGreaterThan(4);
    for (const text of mrkdwn) expect(text).not.toMatch(/<[!@]/);
    expect(mrkdwn.join('\n')).toContain('&lt;!channel&gt;');
    expect(mrkdwn.join('\n')).toContain('&lt;!here&gt; &amp; &lt;@U123&gt;');
  });

  it('formats a Teams Workflows message carrying an Adaptive Card 1.4', () => {
    const message = toTeams(failing);
    expect(checkTeamsMessage(message)).toEqual([]);
    const card = message.attachments[0]!.content as {
      body: Array<{ type: string; facts?: unknown[] }>;
      actions?: unknown[];
    };
    expect(card.body.some((b) => b.type === 'FactSet')).toBe(true);
    expect(card.actions).toEqual([
      {
        type: 'Action.OpenUrl',
        title: 'Open the delivery record',
        url: 'https://pipes.example.com/api/event-deliveries/evd_01',
      },
    ]);
    expect(JSON.stringify(card)).toContain('Event Timestamp Too Old');
  });

  it('formats the generic webhook body with an event action and a dedup key that resolve together', () => {
    const recovered = recoveryAlert(
      'pipe_recovered',
      { incident_started_at: 0, failures: 5, unreported: 4 },
      subjects,
      { delivery_id: 'evd_ok', error: null },
      null,
      60_000,
    );
    const open = toWebhook(failing, { id: 'alc_01', name: 'pager' });
    const close = toWebhook(recovered, { id: 'alc_01', name: 'pager' });
    expect(open).toMatchObject({
      source: 'openpipes',
      event_action: 'trigger',
      kind: 'pipe_failing',
      count: 1,
    });
    expect(close).toMatchObject({ event_action: 'resolve', kind: 'pipe_recovered', count: 5, folded: 4 });
    expect(close.dedup_key).toBe(open.dedup_key);
    expect(close.text).toContain('5 failed deliveries (4 not reported before)');
  });

  it('describes a failure rate and a circuit breaker pause in words', () => {
    const rate = noticeAlert(
      {
        kind: 'failure_rate',
        count: 7,
        folded: 0,
        example: null,
        opening: false,
        still_open: true,
        incident_started_at: 0,
      },
      subjects,
      null,
      0,
      { failureRate: { failed: 30, total: 100, rate: 0.3, threshold: 0.25, window_seconds: 300 } },
    );
    expect(rate.title).toBe('Pipe "purchase-to-meta": 30% of deliveries fail');
    expect(rate.text).toContain('30 of 100 deliveries');
    expect(rate.text).toContain('5 min');
    const paused = noticeAlert(
      {
        kind: 'destination_paused',
        count: 1,
        folded: 0,
        example: null,
        opening: true,
        still_open: true,
        incident_started_at: 0,
      },
      subjects,
      null,
      0,
      { pausedUntil: '2026-05-04T10:15:00.000Z', consecutiveFailures: 5 },
    );
    expect(paused.title).toBe('Destination "meta-capi-prod" paused by its circuit breaker');
    expect(paused.text).toContain('5 failed batches in a row');
    expect(paused.dedup_key).toBe('openpipes:destination:dst_01');
  });

  it('sends a test alert that every channel type accepts', () => {
    const sample = testAlert('ops', null, 0);
    expect(checkSlackMessage(toSlack(sample))).toEqual([]);
    expect(checkTeamsMessage(toTeams(sample))).toEqual([]);
    expect(toWebhook(sample, { id: 'alc_1', name: 'ops' })).toMatchObject({ kind: 'test', status: 'test' });
  });
});
