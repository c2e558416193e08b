/**
 * Secrets on every store: a transform and a `send()` leak every bound secret in every encoding the
 * sandbox's libraries produce — in console lines cut at the record's limit with the cut at every
 * offset inside the secret, in request and response bodies over 64 KiB cut inside it, in error
 * messages cut inside it, in URLs, headers, outputs and thrown errors — and then every record (as
 * the API answers it), every log line and the store's own bytes are searched for the secret, every
 * encoding of it, and its pieces at each cut. And a rotation: a `send()` that cached the old value
 * in a module-level variable sends the new one once `updateValue` resolves; the old value stays
 * encrypted until retention destroys it (audited).
 *
 * ```ts
 * runEngineSecrets({ name: 'sqlite', openStore, storedBytes: async (db) => [{ name: 'db', text: readFileSync(file, 'latin1') }] });
 * ```
 */
import { describe, expect, it } from 'vitest';
import type { Pipes, PipesOptions } from '../engine.js';
import type { Logger } from '../logger.js';
import { createSandbox } from '../sandbox/pool.js';
import type { Sandbox } from '../sandbox/types.js';
import type { Delivery } from '../schemas.js';
import { CUT_FLOOR } from '../secrets/redact.js';
import type { Store } from '../store.js';
import { settled, waitFor } from '../testing/helpers.js';
import { foundPieces, piecesOf } from '../testing/leaks.js';
import { startTestServer } from '../testing/test-server.js';
import { engineHarness } from './harness.js';
import { leakSend, leakTransform } from './secrets-code.js';

export interface EngineSecretsOptions {
  name: string;
  /** Opens the database called `db` (the same name opens the same data again). Not migrated. */
  openStore: (db: string) => Promise<Store>;
  /**
   * What the store keeps for `db`, as bytes read from outside the engine without asking the store
   * to tidy up first (SQLite: the file, its `-wal` and `-shm`; PostgreSQL: `pg_dump` of the schema).
   */
  storedBytes: (db: string) => Promise<Array<{ name: string; text: string }>>;
  /** Drops every database this suite created. */
  cleanup?: () => Promise<void>;
}

const values = {
  // Quotes, a backslash, a space and URL-reserved characters: every encoder changes it.
  TOKEN: 'EAAB+long/token=with?special&chars-123 "q" \\ ~*',
  UNICODE_SECRET: 'pässwörd-€-ключ-秘密-0042',
  API_KEY: 'sk_live_51HbX2eLkdIwHu7ixQ9zT',
  PIXEL_ID: '998877665544',
};
type SecretName = keyof typeof values;

/** The console forms placed at the record's 4 KiB cut, at every offset inside them. */
const consoleCuts: Array<[SecretName, string, number]> = (
  [
    ['TOKEN', 'raw'],
    ['TOKEN', 'json'],
    ['TOKEN', 'component'],
    ['UNICODE_SECRET', 'raw'],
    ['API_KEY', 'hex'],
    ['API_KEY', 'base64'],
    ['PIXEL_ID', 'raw'],
  ] as Array<[SecretName, string]>
).map(([secret, form]) => [secret, form, nodeForm(values[secret], form).length]);

/** The forms `consoleCuts` uses, as Node writes them (the guest's are the same). */
function nodeForm(value: string, form: string): string {
  const bytes = Buffer.from(value, 'utf8');
  if (form === 'json') return JSON.stringify(value).slice(1, -1);
  if (form === 'component') return encodeURIComponent(value);
  if (form === 'hex') return bytes.toString('hex');
  if (form === 'base64') return bytes.toString('base64');
  return value;
}

/** A logger that keeps every line, as the host's logger would write it. */
function capturingLogger(lines: string[]): Logger {
  const keep = (level: string) => (fields: Record<string, unknown>, message?: string) => {
    lines.push(JSON.stringify({ level, message, ...fields }));
  };
  return { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

/** Every delivery of a pipe, each as `deliveries.get` answers it (all attempts). */
async function allRecords(pipes: Pipes, pipeId: string): Promise<Delivery[]> {
  const out: Delivery[] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<Pipes['deliveries']['list']>> = await pipes.deliveries.list(pipeId, {
      limit: 1000,
      ...(cursor ? { cursor } : {}),
    });
    for (const d of page.data) out.push(await pipes.deliveries.get(d.id));
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/**
 * Asserts no reading of `text` holds a piece (8 characters) of any value, nor any of `cuts` (the
 * first `CUT_FLOOR` characters of a form, after the text that preceded it where a cut was).
 */
function expectNothingOf(
  where: string,
  text: string,
  secrets: Partial<Record<string, string>>,
  cuts: string[] = [],
): void {
  const pieces = [...Object.values(secrets).flatMap((value) => piecesOf(value!)), ...cuts];
  expect(foundPieces(text, pieces), where).toEqual([]);
}

/** Waits until `count` deliveries of the pipe are final (by the counts: records can be large). */
async function settledCount(pipes: Pipes, pipeId: string, count: number, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const rows = await pipes.deliveries.stats();
      const done = rows
        .filter((r) => r.pipe_id === pipeId && ['delivered', 'filtered', 'failed', 'dead'].includes(r.status))
        .reduce((n, r) => n + r.count, 0);
      return done >= count;
    },
    timeoutMs,
    `${count} settled deliveries`,
  );
}

// long-function: one list of it() cases sharing the engine harness set up at its top; every store runs it, the engine's executable spec
export function runEngineSecrets(options: EngineSecretsOptions): void {
  describe(`secrets on ${options.name}`, () => {
    const h = engineHarness(options, { prefix: 'secrets', defaults: { dispatcher: { pollIntervalMs: 20 } } });
    const { dbName } = h;
    const engine = (db: string, lines: string[], egress: string, extra: Partial<PipesOptions> = {}) =>
      h.engine(db, { logger: capturingLogger(lines), egressAllow: [egress], ...extra });

    /**
     * The wiring every test here needs: the `web` source, the `leak` event type, `secrets` created
     * and bound to `destination`, and `pipe` from the one to the other; pipe and destination
     * enabled, the engine not started.
     */
    const wire = async <K extends string>(
      pipes: Pipes,
      setting: {
        secrets: Record<K, string>;
        destination: Parameters<Pipes['destinations']['create']>[0];
        pipe: { name: string; transform?: string | null };
      },
    ) => {
      const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.eventTypes.create({ name: 'leak', schema: { type: 'object' } });
      const secretIds = {} as Record<K, string>;
      for (const [key, value] of Object.entries<string>(setting.secrets)) {
        secretIds[key as K] = (await pipes.secrets.create({ key, value })).id;
      }
      const destination = await pipes.destinations.create(setting.destination);
      await pipes.destinations.bindSecrets(destination.id, Object.values(secretIds));
      const pipe = await pipes.pipes.create({
        ...setting.pipe,
        source_id: source.id,
        destination_id: destination.id,
      });
      await pipes.pipes.enable(pipe.id);
      await pipes.destinations.enable(destination.id);
      return { pipe, destination, secretIds };
    };

    /** Every secret of `values` bound to a `leaky` destination sending with `send`, one try per batch of one. */
    const setup = async (pipes: Pipes, send: string, transform: string | null) => {
      const wired = await wire(pipes, {
        secrets: values,
        destination: { name: 'leaky', send, max_batch_size: 1, retry: { max_attempts: 1 } },
        pipe: { name: 'leaky-pipe', transform },
      });
      return { ...wired, secretIds: wired.secretIds as Partial<Record<SecretName, string>> };
    };

    const leak = (mode: string, extra: Record<string, unknown> = {}) => ({
      event_type: 'leak',
      event_time: new Date().toISOString(),
      event_payload: { mode, ...extra },
    });

    it('stores and shows no piece of a secret: every encoding, every cut, records, logs and the store bytes', async () => {
      const server = await startTestServer((request) => {
        if (request.url === '/echo') {
          return { status: 200, headers: { 'content-type': 'text/plain' }, body: request.text };
        }
        if (request.url === '/reject') return { status: 400, body: request.text };
        return {
          status: 200,
          body: { echo_url: request.url, echo_headers: request.headers, echo_body: request.text },
        };
      });
      h.track(server);
      const db = dbName();
      const lines: string[] = [];
      const pipes = await engine(db, lines, server.host);
      const { pipe } = await setup(pipes, leakSend(server.url), leakTransform);
      await pipes.start();

      // Phase 1: encodings, errors, bodies and error messages cut inside the secret.
      const batch = [leak('encodings'), leak('transform'), leak('transform_throw'), leak('throw')];
      const cuts: string[] = [];
      for (const name of ['TOKEN', 'UNICODE_SECRET'] as const) {
        const length = values[name].length;
        for (let inside = 1; inside < length; inside++)
          batch.push(leak('error_cut', { secret: name, inside }));
        // 64 KiB bodies (and their echoes) are large: below, at and past the floor, the middle, the end.
        for (const inside of [
          1,
          2,
          CUT_FLOOR - 1,
          CUT_FLOOR,
          CUT_FLOOR + 1,
          length >> 1,
          length - 2,
          length - 1,
        ]) {
          batch.push(leak('body_cut', { secret: name, inside }));
          batch.push(leak('json_body_cut', { secret: name, inside }));
        }
        cuts.push(`~${values[name].slice(0, CUT_FLOOR)}`);
      }
      expect((await pipes.ingest('web', batch)).accepted).toBe(batch.length);
      await settledCount(pipes, pipe.id, batch.length, 180_000);

      // Phase 2 (alone, so no transform output shares the console budget): the 4 KiB console cut.
      const consoleBatch = [];
      for (const [secret, form] of consoleCuts)
        cuts.push(`~${nodeForm(values[secret], form).slice(0, CUT_FLOOR)}`);
      for (const [secret, form, length] of consoleCuts) {
        for (let inside = 1; inside < length; inside++) {
          consoleBatch.push(leak('console_cut', { secret, form, inside }));
        }
      }
      expect((await pipes.ingest('web', consoleBatch)).accepted).toBe(consoleBatch.length);
      const total = batch.length + consoleBatch.length;
      await settledCount(pipes, pipe.id, total, 180_000);

      // send() really had the values, in every encoding (the platform saw them).
      const seen = JSON.stringify(server.requests.map((r) => [r.url, r.headers, r.text]));
      expect(seen).toContain(`Bearer ${values.TOKEN.replace(/["\\]/g, '\\$&')}`);
      expect(seen).toContain(values.API_KEY);

      const records = await allRecords(pipes, pipe.id);
      expect(records).toHaveLength(total);
      const recordsText = JSON.stringify(records);
      // The records say where the values were, and what happened.
      for (const key of Object.keys(values)) expect(recordsText).toContain(`[secret:${key}]`);
      const api = JSON.stringify([
        records,
        await pipes.secrets.list(),
        await pipes.audit.list({ limit: 1000 }),
        await pipes.destinations.versions(records[0]!.destination_id),
        await pipes.deliveries.stats(),
      ]);
      expectNothingOf('the API answers', api, values, cuts);
      expectNothingOf('the logs', lines.join('\n'), values, cuts);
      const consoleRecords = records.filter((r) => JSON.stringify(r.output).includes('"console_cut"'));
      expect(consoleRecords).toHaveLength(consoleBatch.length);
      for (const record of consoleRecords) expect(JSON.stringify(record.attempts)).toContain('[secret:');
      const failed = records.filter((r) => r.status === 'failed');
      // transform_throw, throw, and every error_cut (the platform answered 400).
      expect(failed.length).toBeGreaterThanOrEqual(
        2 + batch.filter((e) => e.event_payload.mode === 'error_cut').length,
      );

      // The store's bytes while the engine runs (no checkpoint), then after it stopped.
      for (const file of await options.storedBytes(db)) {
        expect(file.text.length, file.name).toBeGreaterThan(0);
        expectNothingOf(`${file.name} (running)`, file.text, values, cuts);
      }
      await pipes.stop({ graceMs: 2000 });
      const stopped = await options.storedBytes(db);
      expect(stopped.some((f) => f.text.includes('body_cut'))).toBe(true);
      for (const file of stopped) expectNothingOf(`${file.name} (stopped)`, file.text, values, cuts);
    }, 300_000);

    it('updateValue resolves after the sandbox disposed of the contexts that were given the old value', async () => {
      const server = await startTestServer(() => ({ status: 200, body: { ok: true } }));
      h.track(server);
      const sandbox = createSandbox({ workers: 1, egress: { allow: [server.host] } });
      const retired: string[][] = [];
      let retireDone = false;
      const watched: Sandbox = {
        compile: (input) => sandbox.compile(input),
        transform: (input) => sandbox.transform(input),
        send: (input) => sandbox.send(input),
        close: async () => {},
        async retire(input) {
          retired.push(input.values);
          await sandbox.retire(input);
          retireDone = true;
        },
      };
      try {
        const lines: string[] = [];
        const pipes = await engine(dbName(), lines, server.host, { sandbox: watched });
        const {
          pipe,
          secretIds: { TOKEN: tokenId },
        } = await wire(pipes, {
          secrets: { TOKEN: 'tok-in-process-old-77aa11' },
          // Not a piece of the token: delivery log lines name their destination.
          destination: {
            name: 'local-sink',
            send: `async function send({ secrets }) { await fetch(${JSON.stringify(server.url)}, { method: 'POST', body: secrets.TOKEN }); }`,
          },
          pipe: { name: 'p' },
        });
        await pipes.start();
        await pipes.ingest('web', [leak('before')]);
        await settled(pipes, pipe.id, 1);
        const warmBefore = (await sandbox.stats()).perWorker[0]!.warmContexts;
        expect(warmBefore).toBeGreaterThanOrEqual(1);

        await pipes.secrets.updateValue(tokenId, 'tok-in-process-new-88bb22');
        expect(retired).toEqual([['tok-in-process-old-77aa11']]);
        expect(retireDone).toBe(true);
        expect((await sandbox.stats()).perWorker[0]!.warmContexts).toBe(warmBefore - 1);
        // The same value again retires nothing.
        await pipes.secrets.updateValue(tokenId, 'tok-in-process-new-88bb22');
        expect(retired).toHaveLength(1);
        expect(await pipes.store.listRetiredSecretValues({})).toHaveLength(1);
        expectNothingOf('the logs', lines.join('\n'), {
          OLD: 'tok-in-process-old-77aa11',
          NEW: 'tok-in-process-new-88bb22',
        });
        await pipes.stop({ graceMs: 2000 });
      } finally {
        await sandbox.close();
      }
    }, 60_000);

    it("sends the new value once another process's updateValue resolved, though send() cached the old one; the old one is kept encrypted, then destroyed (audited)", async () => {
      const OLD = 'EAABqX7kZ2w9Lm4Pold31f2e3d4c5b6a';
      const NEW = 'EAABqX7kZ2w9Lm4Pnew9a6b5c4d3e2f1';
      // The platform remembers the first token it saw and names it in every answer.
      let first: string | null = null;
      const server = await startTestServer((request) => {
        const token = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
        first ??= token;
        return { status: 200, body: { ok: true, note: `token ${first} was seen first` } };
      });
      h.track(server);
      let now = Date.parse('2026-05-04T10:00:00.000Z');
      const db = dbName();
      const lines: string[] = [];
      const pipes = await engine(db, lines, server.host, {
        clock: () => now,
        retention: { days: 1, intervalMs: 3_600_000 },
      });
      const {
        pipe,
        secretIds: { TOKEN: tokenId },
      } = await wire(pipes, {
        secrets: { TOKEN: OLD },
        destination: {
          name: 'caching',
          max_batch_size: 1,
          send: `let cached;
async function send({ events, secrets }) {
  if (cached === undefined) cached = secrets.TOKEN;
  console.log('sending with ' + cached);
  await fetch(${JSON.stringify(`${server.url}/rotation`)}, {
    method: 'POST',
    headers: { authorization: 'Bearer ' + cached, 'content-type': 'application/json' },
    body: JSON.stringify({ token: cached, n: events.length }),
  });
}`,
        },
        pipe: { name: 'p' },
      });
      await pipes.start();

      await pipes.ingest('web', [leak('before')]);
      await settled(pipes, pipe.id, 1);
      expect(server.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${OLD}`]);

      // Another process (PostgreSQL: another machine) rotates the value: this engine's sandbox is
      // not told, and still must not call the context that cached the old value.
      const other = await engine(db, lines, server.host, { roles: ['ingest'], clock: () => now });
      await other.secrets.updateValue(tokenId, NEW);
      await pipes.ingest('web', [leak('after')]);
      const after = await settled(pipes, pipe.id, 2);
      expect(after.every((d) => d.status === 'delivered')).toBe(true);
      expect(server.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${OLD}`, `Bearer ${NEW}`]);
      expect(server.requests[1]!.json).toEqual({ token: NEW, n: 1 });

      // The answer after the rotation names the old value: redacted as a retired value.
      const records = await allRecords(pipes, pipe.id);
      const latest = records.find((r) => JSON.stringify(r).includes('"mode":"after"'))!;
      expect(latest.response).toMatchObject({ body: { note: 'token [secret:TOKEN] was seen first' } });
      const shown = JSON.stringify([
        records,
        await pipes.secrets.list(),
        await pipes.audit.list({ limit: 100 }),
      ]);
      expectNothingOf('the API answers', shown, { OLD, NEW });
      expectNothingOf('the logs', lines.join('\n'), { OLD, NEW });
      for (const file of await options.storedBytes(db)) {
        expectNothingOf(`${file.name} (after rotation)`, file.text, { OLD, NEW });
      }
      expect(await pipes.store.listRetiredSecretValues({})).toHaveLength(1);

      // A day and a bit later, retention destroys the retired value, and says so in the audit trail.
      now += 25 * 3_600_000;
      expect(await pipes.prune()).toEqual({
        events: 2,
        deliveries: 2,
        secretValues: 1,
        profiles: 0,
        rejections: 0,
        deliveryCounts: 0,
      });
      expect(await pipes.store.listRetiredSecretValues({})).toEqual([]);
      const destroyed = await waitFor(async () => {
        const page = await pipes.audit.list({ entity_kind: 'secret', entity_id: tokenId });
        return page.data.find((e) => e.action === 'destroy_retired_value');
      });
      expect(destroyed).toMatchObject({ actor: 'retention', after: null, before: { key: 'TOKEN' } });
      expect(Object.keys(destroyed.before ?? {}).sort()).toEqual(['key', 'retired_at']);
      await pipes.stop({ graceMs: 2000 });
      for (const file of await options.storedBytes(db)) {
        expectNothingOf(`${file.name} (stopped)`, file.text, { OLD, NEW });
      }
    }, 120_000);
  });
}
