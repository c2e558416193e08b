/**
 * `openpipes sources events|rejections` against a real `openpipes serve` (SQLite): an event
 * collected and one refused show up, newest first, by slug or id, as a table and as JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliResult,
  collect,
  createSourceAndEventTypeOverCli,
  openpipes,
  openpipesOk,
  type ServeProcess,
  startServe,
  stopAll,
} from './helpers.js';

describe('openpipes sources', () => {
  let serve: ServeProcess;

  const run = (args: string[]): Promise<CliResult> => openpipesOk(args, { env: serve.env });

  beforeAll(async () => {
    serve = await startServe();
    await createSourceAndEventTypeOverCli(serve.env, {
      name: 'purchase',
      schema: { type: 'object', required: ['value'] },
    });
    const collected = await collect(serve.url, [
      { event_type: 'purchase', event_time: new Date().toISOString(), event_payload: { value: 1 } },
      { event_type: 'purchase', event_time: new Date().toISOString(), event_payload: { price: 1 } },
    ]);
    expect(collected.status).toBe(202);
  });
  afterAll(() => stopAll());

  it('lists the events a source accepted', async () => {
    const listed = await run(['sources', 'events', 'web']);
    expect(listed.stdout).toMatch(/^ID\s+RECEIVED\s+TYPE\s+EVENT ID\s+PAYLOAD/);
    expect(listed.stdout).toContain('{"value":1}');
    const json = (await run(['sources', 'events', 'web', '--json'])).json();
    expect(json.data).toHaveLength(1);
    expect(json.data[0].event_payload).toEqual({ value: 1 });
  });

  it('lists the events it refused with their errors', async () => {
    const listed = await run(['sources', 'rejections', 'web']);
    expect(listed.stdout).toContain('VALIDATION_FAILED');
    expect(listed.stdout).toContain('"price":1');
    const id = (await run(['api', 'GET', '/api/sources'])).json().data[0].id;
    const json = (await run(['sources', 'rejections', id, '--json', '--limit', '5'])).json();
    expect(json.data).toHaveLength(1);
    expect(json.data[0].error.issues[0].path).toBe('event_payload');
    expect(json.data[0].error.message).toMatch(/value/);
  });

  it('refuses a bad limit and an unknown source', async () => {
    const bad = await openpipes(['sources', 'events', 'web', '--limit', 'many'], { env: serve.env });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--limit is a number/);
    const missing = await openpipes(['sources', 'rejections', 'nope'], { env: serve.env });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no source with id or slug "nope"/);
  });

  it('creates write keys (printed once), lists their prefixes, and revokes one by prefix', async () => {
    const created = (await run(['sources', 'write-key', 'web', '--json'])).json();
    expect(created.write_key).toMatch(/^opw_/);
    const printed = await run(['sources', 'write-key', 'web']);
    const second = printed.stdout.trim();
    expect(second).toMatch(/^opw_[A-Za-z0-9_-]{43}$/);
    const listed = await run(['sources', 'write-keys', 'web']);
    expect(listed.stdout).toMatch(/^ID\s+PREFIX\s+CREATED\s+REVOKED/);
    expect(listed.stdout).toContain(created.prefix);
    expect(listed.stdout).toContain(second.slice(0, 12));
    expect(listed.stdout).not.toContain(created.write_key);
    expect(listed.stdout).not.toContain(second);
    // openpipes serve takes Segment-spec clients at /v1/...: the second key sends an order.
    const tracked = await fetch(`${serve.url}/v1/track`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${second}:`).toString('base64')}`,
      },
      body: JSON.stringify({
        type: 'track',
        event: 'Order Completed',
        userId: 'u-1',
        messageId: 'seg-order-1',
        properties: { revenue: 7 },
      }),
    });
    expect({ status: tracked.status, body: await tracked.json() }).toEqual({
      status: 200,
      body: { success: true },
    });
    const events = (await run(['sources', 'events', 'web', '--json'])).json();
    expect(
      events.data.find((e: { event_id: string }) => e.event_id === 'seg-order-1')?.event_payload.value,
    ).toBe(7);
    const revoked = await run(['sources', 'revoke-write-key', 'web', created.prefix]);
    expect(revoked.stdout).toContain(`Revoked write key ${created.prefix}`);
    const after = (await run(['sources', 'write-keys', 'web', '--json'])).json();
    expect(after.data.map((k: { revoked_at: string | null }) => k.revoked_at !== null)).toEqual([
      true,
      false,
    ]);
    const bad = await openpipes(['sources', 'revoke-write-key', 'web', '../x'], { env: serve.env });
    expect(bad.code).not.toBe(0);
  });
});
