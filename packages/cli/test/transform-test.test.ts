/**
 * `openpipes transform test`: offline (no server, no OPENPIPES_URL), in the production sandbox.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { googleExampleTransform, metaExampleTransform, purchaseEvent } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openpipes, stopAll, tempDir } from './helpers.js';

describe('openpipes transform test', () => {
  let dir: string;
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  beforeAll(() => {
    dir = tempDir('transform');
    file(
      'purchases.json',
      JSON.stringify([
        purchaseEvent('ord_1', { revenue: 10 }),
        { event_type: 'add_to_cart', event_time: '2026-05-04T10:14:22Z', event_payload: { sku: 'A-1' } },
        purchaseEvent('ord_2', { revenue: 25.5 }),
      ]),
    );
  });
  afterAll(() => stopAll());

  it('prints the output events of the Meta example transform; the add_to_cart is filtered out', async () => {
    const result = await openpipes(
      ['transform', 'test', file('meta.js', metaExampleTransform), '--events', 'purchases.json'],
      {
        cwd: dir,
        env: { OPENPIPES_URL: 'http://127.0.0.1:9' }, // never used: the command runs offline
      },
    );
    expect(result.code).toBe(0);
    const outputs = result.json();
    expect(outputs).toHaveLength(2);
    expect(outputs[0]).toMatchObject({
      event_type: 'purchase',
      event_payload: {
        event_name: 'Purchase',
        event_id: 'ord_1',
        custom_data: { currency: 'EUR', value: 10 },
      },
    });
    expect(outputs[1].event_payload.custom_data.value).toBe(25.5);
    expect(result.stderr).toContain('3 events in, 2 out (1 filtered out: 1 transform)');
  });

  it('says why events were filtered when the transform gives a reason', async () => {
    const marker = file(
      'marker.js',
      [
        'function transform({ events }) {',
        "  return events.map((e) => (e.event_type === 'purchase' ? e : { filter_reason: 'not_a_purchase' }));",
        '}',
      ].join('\n'),
    );
    const text = await openpipes(['transform', 'test', marker, '--events', 'purchases.json'], { cwd: dir });
    expect(text.code).toBe(0);
    expect(text.stderr).toContain('3 events in, 2 out (1 filtered out: 1 not_a_purchase)');
    const json = await openpipes(['transform', 'test', marker, '--events', 'purchases.json', '--json'], {
      cwd: dir,
    });
    expect(json.json().results.map((r: { filter_reason: string | null }) => r.filter_reason)).toEqual([
      null,
      'not_a_purchase',
      null,
    ]);
  });

  it('passes --secret values to the transform and prints them as [secret:KEY] unless --show-secrets', async () => {
    const secretLog = file(
      'google-logged.js',
      [
        'function transform({ events, secrets }) {',
        "  console.log('action', secrets.GOOGLE_ADS_CONVERSION_ACTION);",
        '  return events.map((e) => ({',
        '    event_type: e.event_type,',
        '    event_time: e.event_time,',
        '    event_payload: { conversion_action: secrets.GOOGLE_ADS_CONVERSION_ACTION },',
        '  }));',
        '}',
      ].join('\n'),
    );
    const run = (extra: string[]) =>
      openpipes(
        [
          'transform',
          'test',
          secretLog,
          '--events',
          'purchases.json',
          '--secret',
          'GOOGLE_ADS_CONVERSION_ACTION=customers/1/conversionActions/2',
          ...extra,
        ],
        { cwd: dir },
      );
    for (const extra of [['--json'], []]) {
      const hidden = await run(extra);
      // Once (CI, 2026-12-07) this process ended by a signal within 2 s; not reproduced in 150 runs.
      // Say how it ended and what it printed if it happens again.
      expect(hidden.code, `signal ${hidden.signal}; stderr: ${hidden.stderr}`).toBe(0);
      expect(hidden.stdout + hidden.stderr).not.toContain('customers/1/conversionActions/2');
      expect(hidden.stdout + hidden.stderr).not.toContain(
        encodeURIComponent('customers/1/conversionActions/2'),
      );
      expect(hidden.stdout).toContain('[secret:GOOGLE_ADS_CONVERSION_ACTION]');
    }
    const result = await openpipes(
      [
        'transform',
        'test',
        file('google.js', googleExampleTransform),
        '--events',
        'purchases.json',
        '--secret',
        'GOOGLE_ADS_CONVERSION_ACTION=customers/1/conversionActions/2',
        '--json',
        '--show-secrets',
      ],
      { cwd: dir },
    );
    expect(result.code).toBe(0);
    const answer = result.json();
    expect(answer.ok).toBe(true);
    expect(answer.outputs[0].event_payload.conversion_action).toBe('customers/1/conversionActions/2');
    expect(answer.results.map((r: { outputs: number }) => r.outputs)).toEqual([1, 0, 1]);
  });

  it('reports code that does not compile with its line, column and the code around it; exit 1', async () => {
    const broken = file(
      'broken.js',
      [
        'function transform({ events }) {',
        '  return events.map((e) => ({',
        '    event_type: e.event_type,,',
        '  }));',
        '}',
      ].join('\n'),
    );
    const result = await openpipes(['transform', 'test', broken, '--events', 'purchases.json'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/openpipes: broken\.js:3:\d+: COMPILE_ERROR: /);
    expect(result.stderr).toContain('> 3 |     event_type: e.event_type,,');
    expect(result.stdout).toBe('');
  });

  it('reports an error thrown for one event with its line and which event it was; exit 1', async () => {
    const throwing = file(
      'throwing.js',
      [
        'function transform({ events }) {',
        '  return events.map((e) => {',
        "    if (e.event_payload.revenue > 20) throw new Error('revenue too high: ' + e.event_payload.revenue);",
        '    return e;',
        '  });',
        '}',
      ].join('\n'),
    );
    const result = await openpipes(['transform', 'test', throwing, '--events', 'purchases.json'], {
      cwd: dir,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /throwing\.js:3(:\d+)?: USER_CODE_ERROR: .*revenue too high: 25\.5.*\(event 2, event_id ord_2\)/,
    );
    const json = await openpipes(['transform', 'test', throwing, '--events', 'purchases.json', '--json'], {
      cwd: dir,
    });
    expect(json.code).toBe(1);
    expect(json.json()).toMatchObject({ ok: false, error: { code: 'USER_CODE_ERROR', line: 3 } });
  });

  it('refuses fixtures that are not events, before running anything; exit 2', async () => {
    file('bad.json', JSON.stringify([{ event_type: 'purchase' }]));
    const result = await openpipes(['transform', 'test', 'meta.js', '--events', 'bad.json'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/invalid event 0 of bad\.json: event_time/);
  });
});
