import { createHash, randomBytes } from 'node:crypto';
import { purchaseEvent, runSend, runTransform } from '@openpipes/core/testing';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { finalRecords, platformBed, recordsWhere, secretsIn } from '../testing/engine.js';
import { standInFetch } from '../testing/golden.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { standardWebhookSignature, webhookReceiver } from '../testing/webhook-receiver.js';
import { signedWebhook, webhookTemplate } from './webhook.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const apiKey = 'hook-api-key-7c41d9e2b8a0';
const secrets = { WEBHOOK_SECRET: secret, HOOK_API_KEY: apiKey };
const headers = { 'X-Api-Key': '{{secret:HOOK_API_KEY}}', 'X-Source': 'openpipes' };

const bed = platformBed();

const event = (id: string) =>
  purchaseEvent(id, { hashed_email: undefined, hashed_phone: undefined, email: 'Jane.Doe@example.com' });

// The Standard Webhooks reference libraries' test vector (../shared/CONTRACTS.md).
const vector = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

runTemplateHarness(bed, {
  template: webhookTemplate,
  settings: (baseUrl) => ({ url: `${baseUrl}/hooks`, headers }),
  secrets,
  standIn: () => webhookReceiver({ secret }),
  event,
  // Every event type is sent: nothing to map.
  unmappedReason: null,
  badSettings: [
    { settings: { url: 'ftp://hooks.example/x' }, field: 'url' },
    { settings: { method: 'GET' }, field: 'method' },
    { settings: { headers: { 'webhook-signature': 'v1,forged' } }, field: 'headers.webhook-signature' },
    { settings: { headers: { 'X-Evil': 'a\r\nInjected: yes' } }, field: 'headers.X-Evil' },
  ],
  permanent: {
    answer: { status: 422, body: { error: 'events[0].data.currency is required' } },
    code: 'HTTP_422',
    field: 'events[0].data.currency',
  },
  transient: { answer: { status: 503, body: 'maintenance' }, code: 'HTTP_503' },
  rateLimited: { status: 429, body: 'slow down' },
});

describe('webhook template', () => {
  it("signs exactly as the spec's published test vector", async () => {
    // send()'s own signing functions, run in the sandbox on the vector's inputs.
    const code = `${signedWebhook({ url: 'https://hooks.example/x' }).destination.send}
send = async function () {
  return { outcome: 'delivered', message: 'v1,' + signature(signingKey(${JSON.stringify(vector.secret)}), ${JSON.stringify(`${vector.id}.${vector.timestamp}.${vector.body}`)}) };
};`;
    const { value } = await runSend(code, { events: [], secrets: {} });
    expect(value).toMatchObject({ message: vector.signature });
    // The stand-in's verifier and the reference library agree on the vector too.
    expect(
      `v1,${standardWebhookSignature(vector.secret, `${vector.id}.${vector.timestamp}.${vector.body}`)}`,
    ).toBe(vector.signature);
    expect(new Webhook(vector.secret).sign(vector.id, new Date(vector.timestamp * 1000), vector.body)).toBe(
      vector.signature,
    );
  });

  it('delivers {"events": [...]} that the standardwebhooks library verifies, with secret headers redacted in records', async () => {
    const { platform, pipes, pipe } = await bed.wire(
      webhookReceiver({ secret }),
      signedWebhook({ url: `${bed.server.url}/hooks`, headers }),
      { secrets, retry: { max_attempts: 1 } },
    );
    await pipes.ingest('web', [event('ord_1'), event('ord_2')]);
    const records = await finalRecords(pipes, pipe.id, 2);
    expect(platform.violations).toEqual([]);
    expect(records.map((r) => r.status)).toEqual(['delivered', 'delivered']);

    // The oracle: the reference library verifies every request as it arrived.
    const oracle = new Webhook(secret);
    for (const request of bed.server.requests) {
      const verified = oracle.verify(request.text, request.headers as Record<string, string>);
      expect(verified).toEqual(request.json);
    }
    const [request] = bed.server.requests;
    expect(request!.headers['x-api-key']).toBe(apiKey);
    expect(request!.headers['x-source']).toBe('openpipes');
    const body = request!.json as { events: Array<{ id: string; type: string; data: { email: string } }> };
    expect(body.events.map((e) => [e.id, e.type])).toEqual([
      ['ord_1', 'purchase'],
      ['ord_2', 'purchase'],
    ]);
    expect(body.events[0]!.data.email).toBe('Jane.Doe@example.com');
    // The id is the documented derivation over the sorted event ids.
    const sorted = ['ord_1', 'ord_2'].join('\n');
    expect(request!.headers['webhook-id']).toBe(
      `msg_${createHash('sha256').update(sorted).digest('hex').slice(0, 32)}`,
    );

    expect(records[0]!.request!.headers).toMatchObject({ 'x-api-key': '[secret:HOOK_API_KEY]' });
    expect(secretsIn(records, [apiKey, secret, secret.slice(6)])).toEqual([]);
  });

  it('keeps webhook-id across retries of the same message and signs each attempt afresh', async () => {
    const { platform, pipes, pipe } = await bed.wire(
      webhookReceiver({ secret }),
      signedWebhook({ url: `${bed.server.url}/hooks` }),
      {
        secrets: { WEBHOOK_SECRET: secret },
        retry: { max_attempts: 3, initial_delay_ms: 20, multiplier: 1 },
      },
    );
    platform.answerNext({ status: 503, body: 'try again' });
    await pipes.ingest('web', [event('ord_retry')]);
    const [record] = await finalRecords(pipes, pipe.id, 1);
    expect(record).toMatchObject({ status: 'delivered', attempt_count: 2 });
    expect(platform.messages).toHaveLength(2);
    expect(platform.messages[0]!.id).toBe(platform.messages[1]!.id);
    const oracle = new Webhook(secret);
    for (const request of bed.server.requests) {
      expect(() => oracle.verify(request.text, request.headers as Record<string, string>)).not.toThrow();
    }
  });

  it('gives the same webhook-id to the same events in any order, and another to other events', async () => {
    const definition = signedWebhook({ url: 'https://hooks.example/hooks' });
    const receiver = webhookReceiver({ secret, path: '/hooks' });
    const idOf = async (ids: string[]) => {
      const events = await runTransform(definition.transform, { events: ids.map(event) });
      const { exchanges } = await runSend(definition.destination.send, {
        events,
        secrets: { WEBHOOK_SECRET: secret },
        fetch: standInFetch(receiver.handler),
      });
      return exchanges[0]!.request.headers['webhook-id'];
    };
    const ab = await idOf(['a', 'b']);
    expect(await idOf(['b', 'a'])).toBe(ab);
    expect(await idOf(['a', 'c'])).not.toBe(ab);
    expect(ab).toMatch(/^msg_[0-9a-f]{32}$/);
    // Events without an id (an edited transform) count by their content.
    const anonymous = async (value: number) =>
      (
        await runSend(definition.destination.send, {
          events: [
            { event_type: 'purchase', event_time: new Date().toISOString(), event_payload: { value } },
          ],
          secrets: { WEBHOOK_SECRET: secret },
          fetch: standInFetch(receiver.handler),
        })
      ).exchanges[0]!.request.headers['webhook-id'];
    expect(await anonymous(1)).toBe(await anonymous(1));
    expect(await anonymous(1)).not.toBe(await anonymous(2));
    expect(receiver.violations).toEqual([]);
  });

  it('sends with the configured method, and fails an unusable WEBHOOK_SECRET with a clear error', async () => {
    const definition = signedWebhook({ url: 'https://hooks.example/hooks', method: 'PUT' });
    const receiver = webhookReceiver({ secret, method: 'PUT' });
    const events = await runTransform(definition.transform, { events: [event('ord_put')] });
    const { value } = await runSend(definition.destination.send, {
      events,
      secrets: { WEBHOOK_SECRET: secret },
      fetch: standInFetch(receiver.handler),
    });
    expect(value).toMatchObject({ outcome: 'delivered' });
    expect(receiver.messages.map((m) => m.method)).toEqual(['PUT']);
    await expect(
      runSend(definition.destination.send, { events, secrets: { WEBHOOK_SECRET: 'not base64!' } }),
    ).rejects.toThrowError(/WEBHOOK_SECRET must look like whsec_<base64>/);
  });

  it('the stand-in receiver refuses a forged signature, a tampered body and a stale timestamp', () => {
    const receiver = webhookReceiver({ secret });
    const body = '{"events":[]}';
    const now = Math.floor(Date.now() / 1000);
    const ask = (id: string, ts: number, text: string, signature: string) =>
      receiver.handler({
        method: 'POST',
        url: '/hooks',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(ts),
          'webhook-signature': signature,
        },
        text,
        json: JSON.parse(text),
        receivedAt: Date.now(),
      });
    const good = (ts: number, text: string) =>
      `v1,${standardWebhookSignature(secret, `msg_1.${ts}.${text}`)}`;
    const other = `whsec_${randomBytes(32).toString('base64')}`;
    expect(ask('msg_1', now, body, good(now, body)).status).toBe(204);
    expect(
      ask('msg_1', now, body, `v1,${standardWebhookSignature(other, `msg_1.${now}.${body}`)}`).status,
    ).toBe(401);
    expect(ask('msg_1', now, '{"events":[{}]}', good(now, body)).status).toBe(401);
    expect(ask('msg_1', now - 3600, body, good(now - 3600, body)).status).toBe(401);
    // Several signatures (secret rotation): one that verifies is enough.
    expect(ask('msg_1', now, body, `v1,bm9wZQ== ${good(now, body)}`).status).toBe(204);
    expect(receiver.violations).toHaveLength(3);
  });

  it('lists WEBHOOK_SECRET and every secret the headers reference as required', () => {
    expect(
      signedWebhook({ url: 'https://hooks.example/x', headers }).requiredSecrets.map((s) => s.key),
    ).toEqual(['WEBHOOK_SECRET', 'HOOK_API_KEY']);
    expect(webhookTemplate.create({ url: 'https://hooks.example/x' }).destination.template.settings).toEqual({
      name: 'webhook',
      url: 'https://hooks.example/x',
      method: 'POST',
      headers: {},
      max_batch_size: 100,
    });
  });
});

describe('webhook template 429', () => {
  it('honours Retry-After from the receiver', async () => {
    const { platform, pipes, pipe } = await bed.wire(
      webhookReceiver({ secret }),
      signedWebhook({ url: `${bed.server.url}/hooks` }),
      {
        secrets: { WEBHOOK_SECRET: secret },
        retry: { max_attempts: 3, initial_delay_ms: 20, multiplier: 1 },
      },
    );
    platform.answerNext({ status: 429, headers: { 'retry-after': '90' }, body: 'slow down' });
    await pipes.ingest('web', [event('ord_429')]);
    const [waiting] = await recordsWhere(pipes, pipe.id, (all) => all.some((d) => d.status === 'retrying'));
    const record = await pipes.deliveries.get(waiting!.id);
    expect(record.error).toMatchObject({ code: 'HTTP_429', retryable: true });
    expect(
      Date.parse(record.next_attempt_at!) - Date.parse(record.attempts![0]!.started_at),
    ).toBeGreaterThanOrEqual(90_000);
  });
});
