/**
 * `openpipes profiles export` and `openpipes erasure` against a real `openpipes serve` (SQLite,
 * identity on by default): a person found by email is exported with her events, then erased; Bob
 * stays.
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

const email = 'Jane.Cli@Shop-Erasure.test';

describe('openpipes erasure and profiles export', () => {
  let serve: ServeProcess;

  const run = (args: string[]): Promise<CliResult> => openpipesOk(args, { env: serve.env });

  beforeAll(async () => {
    serve = await startServe();
    await createSourceAndEventTypeOverCli(serve.env, { name: 'login', schema: { type: 'object' } });
    const at = new Date().toISOString();
    for (const payload of [{ anonymous_id: 'anon-jane', user_id: 'u-jane', email }, { user_id: 'u-bob' }]) {
      const collected = await collect(serve.url, [
        { event_type: 'login', event_time: at, event_payload: payload },
      ]);
      expect(collected.status).toBe(202);
    }
  });
  afterAll(() => stopAll());

  it('exports the person found by email, erases her, and leaves Bob', async () => {
    const [profile] = (await run(['profiles', 'search', '--email', email, '--json'])).json().data;
    expect(profile.id).toMatch(/^prf_/);
    const exported = (await run(['profiles', 'export', profile.id])).json();
    expect(exported.profile.id).toBe(profile.id);
    expect(exported.events).toHaveLength(1);
    expect(exported.events[0].event_payload.email).toBe(email);

    const erased = await run(['erasure', '--email', email]);
    expect(erased.stdout).toMatch(/^erased 1 profile\(s\), 1 event\(s\)/);
    expect(erased.stdout).toContain(profile.id);
    expect(erased.stdout).not.toContain(email);

    const after = await run(['profiles', 'search', '--email', email]);
    expect(after.stdout).toContain('no profile holds these identifiers');
    const bob = (await run(['profiles', 'search', '--user-id', 'u-bob', '--json'])).json();
    expect(bob.data).toHaveLength(1);
    const gone = await openpipes(['profiles', 'export', profile.id], { env: serve.env });
    expect(gone.code).not.toBe(0);
  });

  it('refuses an erasure without an identifier', async () => {
    const bad = await openpipes(['erasure'], { env: serve.env });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/give at least one identifier/);
  });
});
