import { createEgressGuard, type EgressGuard } from '@openpipes/sandbox';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../logger.js';
import { startTestServer, type TestServer } from '../testing/test-server.js';
import { testAlert } from './message.js';
import {
  type AlertSender,
  type AlertTarget,
  channelHealthKey,
  createAlertSender,
  toHealth,
} from './sender.js';

const secretPath = '/services/T0AB12CD/B0EF34GH/n0t-f0r-y0ur-3yes-7kq2';

describe('alert sender', () => {
  const servers: TestServer[] = [];
  const guards: EgressGuard[] = [];
  const senders: AlertSender[] = [];
  afterEach(async () => {
    await Promise.all(senders.splice(0).map((s) => s.close(0)));
    await Promise.all(guards.splice(0).map((g) => g.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  const setup = async (
    handler: Parameters<typeof startTestServer>[0],
    options: { allow?: boolean; timeoutMs?: number; queueSize?: number } = {},
  ) => {
    const server = await startTestServer(handler);
    servers.push(server);
    const guard = createEgressGuard({ allow: options.allow === false ? [] : [server.host] });
    guards.push(guard);
    const state = new Map<string, unknown>();
    const lines: string[] = [];
    const log = (message: string, fields?: Record<string, unknown>) =>
      lines.push(JSON.stringify({ message, ...fields }));
    const logger: Logger = { debug: log, info: log, warn: log, error: log };
    const sender = createAlertSender({
      dispatcher: guard.dispatcher,
      resolveUrl: async () => `${server.url}${secretPath}`,
      state: {
        get: async (key) => state.get(key) ?? null,
        set: async (key, value) => {
          if (value === null) state.delete(key);
          else state.set(key, structuredClone(value));
        },
      },
      logger,
      now: Date.now,
      timeoutMs: options.timeoutMs ?? 2000,
      queueSize: options.queueSize ?? 100,
    });
    senders.push(sender);
    const health = () => toHealth(state.get(channelHealthKey('alc_1')));
    return { server, sender, health, lines };
  };
  const target: AlertTarget = { id: 'alc_1', name: 'ops', type: 'slack', url_secret_id: 'sec_1' };

  it('posts the formatted message and records a healthy channel', async () => {
    const { server, sender, health } = await setup(() => ({ status: 200, body: 'ok' }));
    const result = await sender.send(target, testAlert('ops', null, Date.now()));
    expect(result).toMatchObject({ ok: true, status: 200, error: null });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ method: 'POST', url: secretPath });
    expect(server.requests[0]!.headers['content-type']).toBe('application/json');
    expect(server.requests[0]!.json).toMatchObject({ text: expect.stringContaining('Test alert') });
    expect(health()).toMatchObject({
      consecutive_failures: 0,
      failure_count: 0,
      last_delivery: { ok: true },
    });
  });

  it('refuses a loopback channel the operator did not allow, without connecting', async () => {
    const { server, sender, health } = await setup(() => ({ status: 200 }), { allow: false });
    const result = await sender.send(target, testAlert('ops', null, Date.now()));
    expect(result).toMatchObject({ ok: false, status: null });
    expect(result.error).toMatch(/^EGRESS_DENIED: .*loopback/);
    expect(server.requests).toHaveLength(0);
    expect(health()).toMatchObject({ consecutive_failures: 1, failure_count: 1 });
  });

  it('gives up on a channel that hangs after its timeout, and never shows its URL', async () => {
    const { sender, health, lines } = await setup(() => ({ status: 200, delayMs: 10_000 }), {
      timeoutMs: 300,
    });
    const started = Date.now();
    const result = await sender.send(target, testAlert('ops', null, Date.now()));
    // Far below the 10 s the channel would hold it without the timeout.
    expect(Date.now() - started).toBeLessThan(8000);
    expect(result).toEqual({
      ok: false,
      status: null,
      error: 'timed out after 300 ms',
      at: expect.any(String),
    });
    expect(health().consecutive_failures).toBe(1);
    expect(lines.some((l) => l.includes('alert channel delivery failed'))).toBe(true);
    expect(lines.join('\n')).not.toContain(secretPath);
  });

  it('keeps a channel error that echoes the URL out of the record and the log', async () => {
    const { sender, lines } = await setup((request) => ({
      status: 404,
      body: `no webhook at ${request.url}`,
    }));
    const result = await sender.send(target, testAlert('ops', null, Date.now()));
    expect(result.status).toBe(404);
    expect(result.error).toBe('HTTP 404: no webhook at [secret:ALERT_CHANNEL_URL_PATH]');
    expect(lines.join('\n')).not.toContain(secretPath);
  });

  it('queues per channel without blocking the caller, drops beyond the queue size and counts the drops', async () => {
    const { server, sender, health } = await setup(() => ({ status: 200, delayMs: 200 }), { queueSize: 2 });
    const accepted = Array.from({ length: 6 }, () =>
      sender.enqueue(target, testAlert('ops', null, Date.now())),
    );
    // enqueue() answered at once, synchronously: no send has even reached the channel yet (a
    // wall-clock bound here failed whenever the machine was busy).
    expect(server.requests).toHaveLength(0);
    expect(health().last_delivery).toBeNull();
    // One in flight, two waiting, three dropped.
    expect(accepted).toEqual([true, true, true, false, false, false]);
    await sender.idle();
    expect(server.requests).toHaveLength(3);
    await vi.waitFor(() => expect(health()).toMatchObject({ dropped_count: 3, consecutive_failures: 0 }));
  });

  it('stops after its grace period even when a channel hangs', async () => {
    const { sender } = await setup(() => ({ status: 200, delayMs: 10_000 }), { timeoutMs: 10_000 });
    sender.enqueue(target, testAlert('ops', null, Date.now()));
    sender.enqueue(target, testAlert('ops', null, Date.now()));
    const started = Date.now();
    await sender.close(200);
    // Far below the 10 s the hanging channel would hold it.
    expect(Date.now() - started).toBeLessThan(8000);
    expect(sender.enqueue(target, testAlert('ops', null, Date.now()))).toBe(false);
  });
});
