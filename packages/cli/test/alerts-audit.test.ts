/**
 * The operator safety net from the CLI: alert channels (URL from stdin, never shown), a test
 * alert to a Slack and a Teams stand-in that check each documented format, the audit trail with
 * its actors, and the exit code when a channel refuses.
 */
import { slackStandIn, startTestServer, type TestServer, teamsStandIn } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openpipes, openpipesOk, type ServeProcess, startServe, stopAll } from './helpers.js';

describe('openpipes alerts and audit', () => {
  let slack: TestServer;
  let teams: TestServer;
  let serve: ServeProcess;

  beforeAll(async () => {
    [slack, teams] = await Promise.all([startTestServer(slackStandIn), startTestServer(teamsStandIn)]);
    serve = await startServe({ env: { OPENPIPES_EGRESS_ALLOW: `${slack.host},${teams.host}` } });
  });
  afterAll(async () => {
    await stopAll();
    await Promise.all([slack.close(), teams.close()]);
  });

  const cli = (args: string[], stdin?: string) => openpipes(args, { env: serve.env, stdin });

  it('creates Slack and Teams channels from a URL on stdin, sends test alerts in each format, and never shows the URL', async () => {
    const slackUrl = `${slack.url}/services/T000/B000/secret-part-1`;
    const created = await cli(
      ['alerts', 'create', '--name', 'ops-slack', '--type', 'slack', '--url-stdin', '--cooldown', '600'],
      slackUrl,
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^Created alert channel ops-slack \(slack\): alc_\w+\n$/);
    const teamsUrl = `${teams.url}/workflows/secret-part-2`;
    expect(
      (await cli(['alerts', 'create', '--name', 'ops-teams', '--type', 'teams', '--url-stdin'], teamsUrl))
        .code,
    ).toBe(0);

    const sent = await cli(['alerts', 'test', 'ops-slack']);
    expect(sent).toMatchObject({ code: 0, stdout: 'Sent: the channel answered 200\n' });
    expect((await cli(['alerts', 'test', 'ops-teams'])).stdout).toBe('Sent: the channel answered 202\n');
    expect(slack.requests).toHaveLength(1);
    expect(teams.requests).toHaveLength(1);

    const listed = await cli(['alerts', 'list']);
    expect(listed.stdout).toMatch(/ops-slack\s+slack\s+yes\s+all\s+ok 200 at/);
    const everything = [listed.stdout, (await cli(['alerts', 'list', '--json'])).stdout, serve.stderr()].join(
      '\n',
    );
    expect(everything).not.toContain('secret-part-1');
    expect(everything).not.toContain('secret-part-2');
  });

  it('exits 1 when the channel does not accept the test alert, and says why', async () => {
    slack.handle(() => ({ status: 404, body: 'no_service' }));
    const result = await cli(['alerts', 'test', 'ops-slack']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^Not sent: .*404/);
    slack.handle(slackStandIn);
  });

  it('enable and disable set the state and can be repeated; toggle flips it', async () => {
    const state = async (args: string[]) => (await cli(['alerts', ...args, 'ops-slack'])).stdout;
    expect(await state(['disable'])).toBe('Alert channel ops-slack is now disabled\n');
    expect(await state(['disable'])).toBe('Alert channel ops-slack is now disabled\n');
    expect(await state(['enable'])).toBe('Alert channel ops-slack is now enabled\n');
    expect(await state(['enable'])).toBe('Alert channel ops-slack is now enabled\n');
    expect(await state(['toggle'])).toBe('Alert channel ops-slack is now disabled\n');
    expect(await state(['toggle'])).toBe('Alert channel ops-slack is now enabled\n');
    // A repeated enable or disable wrote nothing: one version per actual change.
    const versions = (await cli(['api', 'GET', '/api/alert-channels'])).json().data;
    expect(versions.find((c: { name: string }) => c.name === 'ops-slack').version).toBe(5);
  });

  it('updates and deletes channels; every change is in the audit trail with its actor', async () => {
    const key = (await cli(['keys', 'create', '--name', 'oncall', '--scope', 'write', '--json'])).json();
    const asOncall = { OPENPIPES_URL: serve.url, OPENPIPES_TOKEN: key.token };
    // openpipesOk: a refusal shows its stderr (once seen empty under a loaded CI-like run).
    const updated = await openpipesOk(
      ['alerts', 'update', 'ops-teams', '--kind', 'delivery_dead,pipe_failing'],
      {
        env: asOncall,
      },
    );
    expect(updated.stdout).toMatch(/Updated alert channel ops-teams \(alc_\w+\), version 2/);
    expect((await openpipes(['alerts', 'delete', 'ops-teams'], { env: asOncall })).code).toBe(0);

    const audit = await cli(['audit', '--actor', 'oncall', '--entity', 'alert_channel', '--json']);
    expect(audit.json().data.map((e: { action: string }) => e.action)).toEqual(['delete', 'update']);
    const table = await cli(['audit', '--entity', 'alert-channel']);
    expect(table.stdout).toMatch(/oncall\s+delete\s+alert_channel alc_/);
    expect(table.stdout).toMatch(/admin\s+create\s+alert_channel alc_/);
    expect(table.stdout).not.toContain('secret-part');
  });

  it('sets volume-anomaly and success-rate rules, and refuses settings that are not JSON or out of range', async () => {
    const teamsUrl = `${teams.url}/workflows/secret-part-3`;
    const created = await cli(
      ['alerts', 'create', '--name', 'ops-levels', '--type', 'teams', '--url-stdin'],
      teamsUrl,
    );
    expect(created.code).toBe(0);
    const updated = await cli([
      'alerts',
      'update',
      'ops-levels',
      '--kind',
      'volume_anomaly,success_rate',
      '--volume-anomaly',
      '{"watch":["source","event_type"],"below":0.4,"window_minutes":30}',
      '--success-rate',
      '{"threshold":0.95,"min_events":100}',
      '--json',
    ]);
    expect(updated.code).toBe(0);
    expect(updated.json()).toMatchObject({
      kinds: ['volume_anomaly', 'success_rate'],
      volume_anomaly: {
        watch: ['source', 'event_type'],
        below: 0.4,
        above: null,
        window_minutes: 30,
        baseline_days: 7,
      },
      success_rate: { threshold: 0.95, window_seconds: 600, min_events: 100 },
    });
    const notJson = await cli(['alerts', 'update', 'ops-levels', '--success-rate', 'threshold=0.9']);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('--success-rate takes a JSON object');
    const outOfRange = await cli(['alerts', 'update', 'ops-levels', '--volume-anomaly', '{"below":1.5}']);
    expect(outOfRange.code).not.toBe(0);
    expect(outOfRange.stderr).toContain('volume_anomaly.below');
    expect((await cli(['alerts', 'delete', 'ops-levels'])).code).toBe(0);
  });
});
