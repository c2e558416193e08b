/**
 * What every engine scenario suite sets up the same way: a fresh database name per case, engines
 * on the store under test (test key, one worker, a 50 ms poll unless the suite says otherwise),
 * stand-in servers on 127.0.0.1, and a cleanup after each case that stops them all and drops the
 * databases. Call it inside the suite's `describe`.
 */
import { afterEach } from 'vitest';
import { createPipes, type Pipes, type PipesOptions } from '../engine.js';
import { silentLogger } from '../logger.js';
import type { IncomingEvent } from '../schemas.js';
import { stopAndClose, testSecretKey } from '../testing/helpers.js';
import { startTestServer, type TestServer } from '../testing/test-server.js';
import type { EngineConformanceOptions } from './engine.js';

export interface EngineHarness {
  /** A database name no other case uses. */
  dbName(): string;
  /** An engine on the store called `db`, stopped and closed after the case. */
  engine(db: string, extra?: Partial<PipesOptions>): Promise<Pipes>;
  /** A stand-in server on 127.0.0.1, closed after the case. */
  server(handler?: Parameters<typeof startTestServer>[0]): Promise<TestServer>;
  /** Closes a server started elsewhere after the case, too. */
  track(server: TestServer): TestServer;
  /** Stops and closes an engine made elsewhere after the case, too. */
  trackEngine(pipes: Pipes): Pipes;
}

export interface HarnessOptions {
  /** Starts every database name (e.g. `engine`), so a leftover database says which suite made it. */
  prefix: string;
  /** Engine options for every engine of the suite, before each engine's own. */
  defaults?: Partial<PipesOptions>;
  /** Close the servers before the engines (so in-flight sends fail at once instead of using the grace). */
  serversFirst?: boolean;
}

export function engineHarness(options: EngineConformanceOptions, harness: HarnessOptions): EngineHarness {
  const open: Pipes[] = [];
  const servers: TestServer[] = [];
  let counter = 0;

  afterEach(async () => {
    const stopEngines = () =>
      Promise.all(open.splice(0).map((p) => stopAndClose(p, { graceMs: 2000 }).catch(() => {})));
    const closeServers = () => Promise.all(servers.splice(0).map((s) => s.close()));
    if (harness.serversFirst) {
      await closeServers();
      await stopEngines();
    } else {
      await stopEngines();
      await closeServers();
    }
    await options.cleanup?.();
  });

  const track = (server: TestServer) => {
    servers.push(server);
    return server;
  };
  const trackEngine = (pipes: Pipes) => {
    open.push(pipes);
    return pipes;
  };
  return {
    dbName: () => `${harness.prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`,
    async engine(db, extra = {}) {
      const pipes = createPipes({
        store: await options.openStore(db),
        secretKey: testSecretKey,
        logger: silentLogger,
        sandbox: { workers: 1 },
        dispatcher: { pollIntervalMs: 50 },
        ...harness.defaults,
        ...extra,
      });
      return trackEngine(pipes);
    },
    server: async (handler) => track(await startTestServer(handler)),
    track,
    trackEngine,
  };
}

/** A send() that posts the batch as `{ data: events }` to `url` and returns the platform's JSON. */
export const postSend = (url: string) => `async function send({ events }) {
  const res = await fetch(${JSON.stringify(url)}, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: events }),
  });
  return res.json();
}`;

/** A send() that posts each event's payload as `{ data: payloads }` to `url` and returns the platform's JSON. */
export const postPayloadsSend = (url: string) => `async function send({ events }) {
  const res = await fetch(${JSON.stringify(url)}, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: events.map((e) => e.event_payload) }),
  });
  return res.json();
}`;

/**
 * The identity stories' set-up (identity, erasure): source `web`, the types `page_view`, `login` and
 * `purchase`, and the pipe `to-platform` running `transform` to the destination `platform`, which
 * posts each event's payload to `url` (`postPayloadsSend`); all enabled, the engine not started.
 */
export async function storyPipe(pipes: Pipes, url: string, transform: string) {
  const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
  for (const name of ['page_view', 'login', 'purchase'])
    await pipes.eventTypes.create({ name, schema: { type: 'object' } });
  const destination = await pipes.destinations.create({ name: 'platform', send: postPayloadsSend(url) });
  const pipe = await pipes.pipes.create({
    name: 'to-platform',
    source_id: source.id,
    destination_id: destination.id,
    transform,
  });
  await pipes.pipes.enable(pipe.id);
  await pipes.destinations.enable(destination.id);
  return { source, destination, pipe };
}

/** Source `web`, the purchase type, `destination`, and a pass-through pipe (`transform: null`) to it; all enabled. */
export async function passThroughPipe(
  pipes: Pipes,
  destination: { name: string; send: string; retry?: Record<string, number> },
) {
  const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
  await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object' } });
  const created = await pipes.destinations.create(destination);
  const pipe = await pipes.pipes.create({
    name: 'pass-through',
    source_id: source.id,
    destination_id: created.id,
    transform: null,
  });
  await pipes.pipes.enable(pipe.id);
  await pipes.destinations.enable(created.id);
  return { source, destination: created, pipe };
}

/** Purchase events with these ids (and order ids), at one fixed time. */
export const orderEvents = (ids: string[]): IncomingEvent[] =>
  ids.map((id) => ({
    event_type: 'purchase',
    event_id: id,
    event_time: '2026-05-04T10:14:22.481Z',
    event_payload: { order_id: id },
  }));
