/**
 * `openpipes serve --demo`: the operator flow, set up on an empty database so a new user
 * can send an event and read its delivery record within a minute, offline. A web source, a
 * purchase event type, the Meta example transform and `send()`, aimed at a stand-in for Meta that
 * the same server answers under `/demo-sink`. Set up through the config import, so a restart
 * reuses what is there.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigDocumentInput, Logger, Pipes } from '@openpipes/core';
// The Meta example's transform, send() (only its base URL differs) and purchase schema, verbatim: one
// copy, in core.
import { metaExampleSend, metaExampleTransform, purchaseSchema } from '@openpipes/core/testing';

/** The path the demo's stand-in for Meta's Conversions API answers under. */
export const demoSinkPath = '/demo-sink';

export const demoNames = {
  source: 'web',
  eventType: 'purchase',
  destination: 'meta-capi-demo',
  pipe: 'purchase-to-meta',
} as const;

/** The demo as a config document. */
export function demoConfig(sinkBaseUrl: string): ConfigDocumentInput {
  return {
    format: 'openpipes-config',
    version: 1,
    secrets: [
      { key: 'META_ACCESS_TOKEN', description: 'Demo token (the local stand-in for Meta accepts any)' },
      { key: 'META_PIXEL_ID', description: 'Demo pixel id' },
    ],
    event_types: [{ name: demoNames.eventType, description: 'A completed order', schema: purchaseSchema }],
    sources: [{ name: 'Web (demo)', slug: demoNames.source }],
    destinations: [
      {
        name: demoNames.destination,
        description: `The Meta example send(), aimed at the local stand-in ${sinkBaseUrl}`,
        send: metaExampleSend(sinkBaseUrl),
        secrets: ['META_ACCESS_TOKEN', 'META_PIXEL_ID'],
        max_batch_size: 1000,
        enabled: true,
      },
    ],
    pipes: [
      {
        name: demoNames.pipe,
        source: demoNames.source,
        destination: demoNames.destination,
        transform: metaExampleTransform,
        enabled: true,
      },
    ],
  };
}

/**
 * Sets the demo up, or reuses it. On an empty database it creates everything; when the demo is
 * there it changes only what it must (the stand-in's URL, when the port changed), so edits the
 * user made while trying things out survive a restart.
 */
export async function ensureDemo(
  pipes: Pipes,
  sinkBaseUrl: string,
  logger: Logger,
): Promise<{ pipeId: string; created: boolean }> {
  const context = { actor: 'openpipes-demo' };
  const doc = demoConfig(sinkBaseUrl);
  const demoValues: Record<string, string> = {
    META_ACCESS_TOKEN: 'EAAB-demo-token',
    META_PIXEL_ID: '123456789',
  };
  for (const { key, description } of doc.secrets ?? []) {
    if (!(await pipes.secrets.findByKey(key))) {
      await pipes.secrets.create({ key, value: demoValues[key]!, description }, context);
    }
  }
  const plan = await pipes.config.import(doc, { dryRun: true });
  const created = plan.changes.some((c) => c.action === 'create');
  if (created) {
    await pipes.config.import(doc, { context });
    logger.info('demo set up', {
      source: demoNames.source,
      pipe: demoNames.pipe,
      destination: demoNames.destination,
    });
  } else {
    const destination = await pipes.destinations.findByName(demoNames.destination);
    const send = metaExampleSend(sinkBaseUrl);
    if (destination?.send.includes(`${demoSinkPath}/v19.0/`) && destination.send !== send) {
      await pipes.destinations.update(destination.id, { send }, context);
      logger.info('demo destination now points at this server', { url: sinkBaseUrl });
    }
  }
  const pipe = await pipes.pipes.findByName(demoNames.pipe);
  if (!pipe) throw new Error(`the demo pipe ${demoNames.pipe} is missing`);
  return { pipeId: pipe.id, created };
}

/**
 * The stand-in for Meta's Conversions API: `POST /demo-sink/v19.0/<pixel>/events` answers like
 * Meta does (`events_received`, `fbtrace_id`). It keeps nothing.
 */
export function demoSink(logger: Logger) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (
      req.method !== 'POST' ||
      !/^\/demo-sink\/v[\d.]+\/[^/]+\/events$/.test((req.url ?? '').split('?')[0]!)
    ) {
      answer(404, {
        error: { message: 'the demo sink answers POST /demo-sink/v19.0/<pixel>/events', code: 803 },
      });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= 4 * 1024 * 1024) chunks.push(chunk);
    });
    req.on('end', () => {
      let data: unknown[] = [];
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: unknown[] };
        data = Array.isArray(body.data) ? body.data : [];
      } catch {
        answer(400, { error: { message: 'Invalid JSON', type: 'OAuthException', code: 100 } });
        return;
      }
      logger.info('demo sink received events', { events: data.length });
      answer(200, {
        events_received: data.length,
        messages: [],
        fbtrace_id: `demo${Date.now().toString(36)}`,
      });
    });
  };
}
