/**
 * The alert scenarios' fixtures: a platform stand-in and its send(), a recording logger, and engines
 * and servers that are closed after each case.
 */
import { randomBytes } from 'node:crypto';
import type { Pipes, PipesOptions } from '../../engine.js';
import type { Logger } from '../../logger.js';
import { purchaseSchema } from '../../testing/meta-example.js';
import type {
  RecordedTestRequest,
  startTestServer,
  TestResponse,
  TestServer,
} from '../../testing/test-server.js';
import type { EngineConformanceOptions } from '../engine.js';
import { engineHarness } from '../harness.js';

export const platformToken = 'plat-secret-token-9d8c7b6a5f4e3d2c';

/** A send() that posts the batch with a bearer token and leaves the verdict to the HTTP status. */
export const platformSend = (url: string, path = '/events') => `async function send({ events, secrets }) {
  const res = await fetch('${url}${path}', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' + secrets.PLATFORM_TOKEN },
    body: JSON.stringify({ data: events.map((e) => e.event_payload) }),
  });
  return res.json();
}`;

export type PlatformMode = 'ok' | 'reject' | 'down';

/** A platform that accepts, rejects (400, echoing the token as some platforms do) or is down (503). */
export function platform(mode: { current: PlatformMode }) {
  return (request: RecordedTestRequest): TestResponse => {
    const rows = (request.json as { data?: unknown[] } | undefined)?.data?.length ?? 0;
    if (mode.current === 'ok') return { status: 200, body: { events_received: rows } };
    if (mode.current === 'down')
      return { status: 503, body: { error: { message: 'Service temporarily unavailable' } } };
    const token = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
    return { status: 400, body: { error: { message: `Invalid OAuth access token: ${token}`, code: 190 } } };
  };
}

export const randomPath = () => `/services/T0AB12CD/B0EF34GH/${randomBytes(18).toString('base64url')}`;

export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (fields: Record<string, unknown>, message?: string) => {
    lines.push(JSON.stringify({ level, message, ...fields }));
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** What each group of scenarios gets: engines and stand-in servers closed after each case, and the setup. */
export interface AlertCases {
  options: EngineConformanceOptions;
  dbName(): string;
  engine(db: string, extra?: Partial<PipesOptions>, egress?: string[]): Promise<Pipes>;
  server(handler: Parameters<typeof startTestServer>[0]): Promise<TestServer>;
  setupPipe(
    pipes: Pipes,
    platformUrl: string,
    destination?: { retry?: Record<string, number>; max_batch_size?: number },
  ): ReturnType<typeof setupPipe>;
}

/** Call inside the suite's describe: registers the cleanup and returns the shared fixtures. */
export function alertCases(options: EngineConformanceOptions): AlertCases {
  const h = engineHarness(options, {
    prefix: 'alerts',
    defaults: { logger: recordingLogger(), alerts: { flushIntervalMs: 100, timeoutMs: 2000 } },
  });
  const engine = (db: string, extra: Partial<PipesOptions> = {}, egress: string[] = []) =>
    h.engine(db, { egressAllow: egress, ...extra });

  return { options, dbName: h.dbName, engine, server: h.server, setupPipe };
}

/** Source `web`, the purchase type, the token secret, one enabled destination and pipe. */
async function setupPipe(
  pipes: Pipes,
  platformUrl: string,
  destination: { retry?: Record<string, number>; max_batch_size?: number } = {},
) {
  const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
  await pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema });
  const token = await pipes.secrets.create({ key: 'PLATFORM_TOKEN', value: platformToken });
  const dest = await pipes.destinations.create({
    name: 'platform-prod',
    send: platformSend(platformUrl),
    secret_ids: [token.id],
    max_batch_size: destination.max_batch_size ?? 100,
    ...(destination.retry ? { retry: { ...destination.retry } } : {}),
  });
  const pipe = await pipes.pipes.create({
    name: 'purchase-to-platform',
    source_id: source.id,
    destination_id: dest.id,
  });
  await pipes.pipes.enable(pipe.id);
  await pipes.destinations.enable(dest.id);
  return { source, destination: dest, pipe, token };
}
