/**
 * Real processes on one PostgreSQL schema, running the built packages (test/child.mjs):
 * - one ingesting and three dispatching 20,000 events while one dispatcher is killed with SIGKILL;
 * - two processes migrating an empty schema at the same moment.
 * A loopback HTTP sink in this process stands in for Meta and counts requests per event_id.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createPipes, silentLogger } from '@openpipes/core';
import { setupMetaExample, type TestServer, testSecretKey } from '@openpipes/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations, postgresStore } from '../src/index.js';
import { dropSchemas, postgresAvailable, postgresUrl, query, testSchema } from '../src/testing.js';

const available = await postgresAvailable();
const childScript = fileURLToPath(new URL('./child.mjs', import.meta.url));
const builtStore = fileURLToPath(new URL('../dist/index.js', import.meta.url));

interface Child {
  name: string;
  process: ChildProcess;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | string>;
  waitFor(key: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

function startChild(name: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [childScript], {
    env: { ...process.env, OP_URL: postgresUrl, OP_NAME: name, OP_SECRET_KEY: testSecretKey, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let buffered = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        // not ours
      }
      for (const w of waiters.splice(0)) w();
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      for (const w of waiters.splice(0)) w();
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  return {
    name,
    process: child,
    lines,
    exited,
    async waitFor(key, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find((l) => key in l);
        if (found) return found;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `${name} exited (${child.exitCode ?? child.signalCode}) before "${key}": ${stderr}`,
          );
        }
        if (Date.now() > deadline) throw new Error(`${name}: no "${key}" within ${timeoutMs} ms: ${stderr}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}

/**
 * A stand-in for Meta on 127.0.0.1: counts every event_id it receives, answers after `delayMs`, and
 * knows which event_ids are in requests it has not answered yet. `hold()` keeps every answer back
 * until `release()`, so a test can catch a process with a batch in flight without racing the clock.
 */
async function startSink(delayMs: number) {
  const received = new Map<string, number>();
  const unanswered = new Set<string>();
  let requests = 0;
  let held: Array<() => void> | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { data: Array<{ event_id: string }> };
      requests++;
      for (const e of body.data) {
        received.set(e.event_id, (received.get(e.event_id) ?? 0) + 1);
        unanswered.add(e.event_id);
      }
      const answer = () => {
        for (const e of body.data) unanswered.delete(e.event_id);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ events_received: body.data.length, fbtrace_id: 'sink' }));
      };
      setTimeout(() => (held ? held.push(answer) : answer()), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    received,
    unanswered,
    requests: () => requests,
    hold: () => {
      held ??= [];
    },
    release: () => {
      const answers = held ?? [];
      held = undefined;
      for (const answer of answers) answer();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(!available)('many processes on one PostgreSQL', () => {
  const children: Child[] = [];
  const schemas: string[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  afterEach(async () => {
    // No orphans, whatever happened.
    for (const child of children.splice(0)) {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
      await child.exited;
    }
    for (const fn of cleanups.splice(0)) await fn();
    await dropSchemas(schemas.splice(0));
  });

  it('delivers 20,000 events with one ingesting and three dispatching processes, one of them killed with SIGKILL mid-run; duplicates only from its in-flight batches', async () => {
    expect(existsSync(builtStore), 'run `npm run build` first: the processes run the built packages').toBe(
      true,
    );
    const total = 20_000;
    const leaseMs = 4000;
    const schema = testSchema('kill');
    schemas.push(schema);
    const sink = await startSink(100);
    cleanups.push(sink.close);

    // The example flow, set up once: Meta destination (batches of 100), purchase pipe, secrets.
    const setup = createPipes({
      store: postgresStore({ connectionString: postgresUrl, schema, poolSize: 2 }),
      secretKey: testSecretKey,
      logger: silentLogger,
      roles: ['ingest'],
      sandbox: { workers: 1 },
    });
    const { pipe } = await setupMetaExample(setup, sink as unknown as TestServer, { max_batch_size: 100 });
    await setup.stop();
    await setup.store.close();

    const common = { OP_SCHEMA: schema, OP_SINK_HOST: sink.host, OP_LEASE_MS: String(leaseMs) };
    const dispatchers = [1, 2, 3].map((n) =>
      startChild(`op-dispatch-${n}-${process.pid}`, { ...common, OP_MODE: 'dispatch' }),
    );
    children.push(...dispatchers);
    const owners = await Promise.all(dispatchers.map(async (d) => String((await d.waitFor('ready')).owner)));
    const ingest = startChild(`op-ingest-${process.pid}`, {
      ...common,
      OP_MODE: 'ingest',
      OP_EVENTS: String(total),
      OP_BATCH: '250',
    });
    children.push(ingest);

    const count = async (where: string, values: unknown[] = []) =>
      Number(
        (
          await query<{ n: string }>(
            `SELECT count(*) AS n FROM "${schema}".deliveries WHERE ${where}`,
            values,
          )
        )[0]!.n,
      );

    // Kill dispatcher 1 once deliveries flow and a batch it holds has reached the sink but has
    // not been answered: sent, never recorded, the worst moment to die. Once 3,000 are delivered
    // the sink holds every answer, so each dispatcher's next batch stays in flight until released.
    const victim = dispatchers[0]!;
    const victimOwner = owners[0]!;
    await waitUntil(async () => (await count(`status = 'delivered'`)) >= 3000, 60_000, '3,000 deliveries');
    sink.hold();
    const victimInFlight = async () => {
      const rows = await query<{ event_id: string }>(
        `SELECT event_id FROM "${schema}".deliveries WHERE status = 'sending' AND lease_owner = $1`,
        [victimOwner],
      );
      return rows.filter((r) => sink.unanswered.has(r.event_id)).length;
    };
    await waitUntil(
      async () => (await victimInFlight()) > 0,
      40_000,
      'dispatcher 1 to have a batch in flight at the sink',
      async () =>
        `delivered ${await count(`status = 'delivered'`)}, dispatcher 1 holds ${await count(`status = 'sending' AND lease_owner = $1`, [victimOwner])} sending, ${sink.unanswered.size} unanswered at the sink`,
    );
    victim.process.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    // Its connections close with it; once PostgreSQL has dropped them nothing it did can commit.
    await waitUntil(
      async () =>
        (
          await query('SELECT 1 FROM pg_stat_activity WHERE application_name LIKE $1', [
            `op-dispatch-1-${process.pid}%`,
          ])
        ).length === 0,
      10_000,
      'the killed process to leave pg_stat_activity',
    );
    const inFlight = await query<{ id: string; event_id: string }>(
      `SELECT id, event_id FROM "${schema}".deliveries WHERE status = 'sending' AND lease_owner = $1`,
      [victimOwner],
    );
    expect(inFlight.length).toBeGreaterThan(0);
    sink.release();

    const ingested = await ingest.waitFor('done', 45_000);
    expect(ingested.accepted).toBe(total);
    await waitUntil(async () => (await count(`status = 'delivered'`)) === total, 45_000, 'every delivery');

    // The survivors stop gracefully.
    for (const d of dispatchers.slice(1)) d.process.kill('SIGTERM');
    for (const d of dispatchers.slice(1)) expect(await d.exited).toBe(0);

    // Every event reached the sink; nothing is left sending; each event has one delivered record.
    expect(sink.received.size).toBe(total);
    for (let i = 0; i < total; i++) expect(sink.received.has(`ord_${i}`)).toBe(true);
    expect(await count(`status <> 'delivered'`)).toBe(0);
    expect(await count('true')).toBe(total);
    // The running totals behind stats() agree, after three processes completed concurrently.
    const statsStore = postgresStore({ connectionString: postgresUrl, schema, poolSize: 1 });
    cleanups.push(() => statsStore.close());
    expect(await statsStore.deliveryStats()).toEqual([
      expect.objectContaining({ pipe_id: pipe.id, status: 'delivered', count: total }),
    ]);
    // Duplicates: only events of the killed worker's in-flight batches, each sent at most twice,
    // both times with the same event_id (the platforms deduplicate on it).
    const inFlightEventIds = new Set(inFlight.map((r) => r.event_id));
    const duplicated = [...sink.received].filter(([, n]) => n > 1);
    expect(duplicated.length).toBeGreaterThan(0);
    for (const [eventId, n] of duplicated) {
      expect(inFlightEventIds.has(eventId), `${eventId} was sent ${n} times`).toBe(true);
      expect(n).toBe(2);
    }
    // The in-flight rows were taken over after the lease expired, by another owner.
    const takenOver = await query<{ attempts: string }>(
      `SELECT count(*) AS attempts FROM "${schema}".delivery_attempts WHERE delivery_id = ANY($1::text[])`,
      [inFlight.map((r) => r.id)],
    );
    expect(Number(takenOver[0]!.attempts)).toBe(inFlight.length);
    console.info(
      `[kill test] ${total} events delivered; killed worker had ${inFlight.length} in flight; ` +
        `${duplicated.length} sent twice; ${sink.requests()} requests`,
    );
    const records = await query<{ pipe_id: string }>(`SELECT DISTINCT pipe_id FROM "${schema}".deliveries`);
    expect(records.map((r) => r.pipe_id)).toEqual([pipe.id]);
  }, 120_000);

  it('applies each migration once when two processes start at the same moment on an empty schema', async () => {
    expect(existsSync(builtStore), 'run `npm run build` first').toBe(true);
    for (let round = 0; round < 3; round++) {
      const schema = testSchema('race');
      schemas.push(schema);
      const racers = ['a', 'b'].map((tag) =>
        startChild(`op-migrate-${tag}-${process.pid}`, { OP_MODE: 'migrate', OP_SCHEMA: schema }),
      );
      children.push(...racers);
      const ready = await Promise.all(racers.map((r) => r.waitFor('ready')));
      expect(ready.every((r) => r.empty === true)).toBe(true);
      for (const r of racers) r.process.stdin!.write('go\n');
      await Promise.all(racers.map((r) => r.waitFor('done')));
      expect(await Promise.all(racers.map((r) => r.exited))).toEqual([0, 0]);
      const applied = await query<{ version: number; applied_by: string }>(
        `SELECT version, applied_by FROM "${schema}".openpipes_migrations ORDER BY version`,
      );
      expect(applied.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
      // One process applied them all; the other found them applied.
      expect(new Set(applied.map((r) => r.applied_by.split(' pid ')[0])).size).toBe(1);
      expect(racers.map((r) => r.name)).toContain(applied[0]!.applied_by.split(' pid ')[0]);
    }
  }, 60_000);
});

async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  describeState?: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const state = describeState ? ` (${await describeState()})` : '';
      throw new Error(`timed out waiting for ${what}${state}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
