/**
 * Whatever throws while a request is answered stays with that request, in every adapter: a handler
 * that rejects or throws, a host fallback that throws, a response body that fails half way, a
 * client that leaves before the answer. The handlers here are stand-ins for bugs (the real one
 * answers its own errors); the servers, sockets and frameworks are real. A bare node:http server
 * (no hardenServer) is covered too: the listener alone must survive every method.
 */
import { createServer, METHODS, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createExpressMiddleware } from '../src/express.js';
import { createFastifyPlugin } from '../src/fastify.js';
import type { OpenPipesHandler, RequestContext } from '../src/handler.js';
import { createNodeListener } from '../src/node.js';
import { exchange, openRaw, untilClosed } from './raw.js';
import { type AdapterName, adapters } from './servers.js';
import { closeServer, listen } from './sqlite-engine.js';

type Respond = (request: Request, context?: RequestContext) => Promise<Response>;

function asHandler(respond: Respond): OpenPipesHandler {
  const handler = ((request: Request, context?: RequestContext) =>
    respond(request, context)) as OpenPipesHandler;
  handler.matches = (pathname) => pathname.startsWith('/op/');
  return handler;
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

/** Serves `respond` on the adapter under `/op`, with a host route at `/host` that throws. */
async function serve(adapter: AdapterName, respond: Respond): Promise<number> {
  const handler = asHandler(respond);
  if (adapter === 'fastify') {
    const app = Fastify();
    await app.register(createFastifyPlugin(handler), { prefix: '/op' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    stops.push(() => app.close());
    return (app.server.address() as AddressInfo).port;
  }
  let server: Server;
  if (adapter === 'express') {
    const app = express();
    app.use('/op', createExpressMiddleware(handler));
    server = createServer(app);
  } else {
    server = createServer(
      createNodeListener(handler, {
        fallback: () => {
          throw new Error('host route failed');
        },
      }),
    );
  }
  const port = await listen(server);
  stops.push(() => closeServer(server));
  return port;
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;

describe.each(adapters)('failures while answering, through %s', (adapter) => {
  it('answers 500 when the handler rejects or throws, and keeps serving', async () => {
    let calls = 0;
    const port = await serve(adapter, (request) => {
      calls++;
      if (new URL(request.url).pathname === '/op/sync') throw new Error('thrown synchronously');
      if (new URL(request.url).pathname === '/op/async') return Promise.reject(new Error('rejected'));
      return Promise.resolve(Response.json({ ok: true }));
    });
    for (const path of ['/op/sync', '/op/async']) {
      const result = await exchange(port, get(path));
      expect(result.answer?.status).toBe(500);
      expect(result.answer?.json.error.code).toBe('INTERNAL');
    }
    expect((await exchange(port, get('/op/fine'))).answer?.json).toEqual({ ok: true });
    expect(calls).toBe(3);
  });

  it('ends only that connection when a streamed body fails half way', async () => {
    const port = await serve(adapter, async (request) => {
      if (new URL(request.url).pathname !== '/op/stream') return Response.json({ ok: true });
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(stream) {
          if (sent) {
            stream.error(new Error('the progress source failed'));
            return;
          }
          sent = true;
          stream.enqueue(new TextEncoder().encode('{"line":1}\n'));
        },
      });
      return new Response(body, { headers: { 'content-type': 'application/x-ndjson' } });
    });
    const result = await exchange(port, get('/op/stream'));
    // Either the first line made it out before the connection ended, or (Fastify buffers the whole
    // body) a 500 was answered instead; never a complete-looking success.
    if (adapter === 'fastify') expect(result.answer?.status).toBe(500);
    else {
      expect(result.text).toContain('{"line":1}');
      expect(result.answer).toBeNull();
    }
    expect((await exchange(port, get('/op/fine'))).answer?.json).toEqual({ ok: true });
  });

  it('drops the answer of a client that left before it was ready', async () => {
    let release: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      release = resolve;
    });
    let aborted: boolean | null = null;
    const port = await serve(adapter, async (request) => {
      if (new URL(request.url).pathname !== '/op/slow') return Response.json({ ok: true });
      release();
      await new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve()));
      aborted = request.signal.aborted;
      return Response.json({ late: true });
    });
    const socket = await openRaw(port);
    const closed = untilClosed(socket);
    socket.write(get('/op/slow'));
    await ready;
    socket.destroy();
    await closed;
    expect((await exchange(port, get('/op/fine'))).answer?.json).toEqual({ ok: true });
    expect(aborted).toBe(true);
  });
});

describe('a bare node:http server (no hardenServer)', () => {
  it('answers every method but CONNECT through the listener, and closes CONNECT cleanly', async () => {
    const seen: string[] = [];
    const port = await serve('node', async (request, context) => {
      seen.push(context?.method ?? request.method);
      return new Response(null, { status: 405, headers: { allow: 'GET' } });
    });
    for (const method of METHODS) {
      const result = await exchange(
        port,
        `${method} /op/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
        {
          head: method === 'HEAD',
        },
      );
      // Without a 'connect' listener Node closes a CONNECT's connection unanswered (hardenServer
      // answers it 405); every other method reaches the handler.
      if (method === 'CONNECT') expect(result.text).toBe('');
      else expect(result.answer?.status, method).toBe(405);
    }
    expect(seen).toEqual(METHODS.filter((m) => m !== 'CONNECT'));
    // The host's fallback threw: that request is answered 500, the server lives on.
    const host = await exchange(port, get('/host'));
    expect(host.answer?.status).toBe(500);
    expect((await exchange(port, get('/op/x'))).answer?.status).toBe(405);
  });
});
