// /healthz latency while one client address holds its cap of stalled connections (issue 12's pass
// condition: p99 under 100 ms). The server, in a child process, is the node:http adapter on an
// engine on a SQLite file, hardened with hardenServer's defaults (64 connections per address, 1024
// in all, headers 10 s, request 30 s). The attacker, at 127.0.0.2 (Linux routes 127.0.0.0/8 to
// lo), opens 64 connections that declare a 1000-byte body and never send it; then it also keeps
// opening more, which are refused. Meanwhile a client at 127.0.0.1 calls GET /healthz one request
// at a time, on a keep-alive connection and on a new connection per request. Three phases: no
// attacker (baseline), cap held, cap held plus the flood of refused connections, and again with
// the attacker gone (after_release). Prints JSON lines.
import { fork } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { report, tempDir } from './lib.mjs';

const self = fileURLToPath(import.meta.url);
const requestsPerRun = 1500;
const attacker = '127.0.0.2';

// --- the server (child process) -----------------------------------------------------------------

async function serve(filename) {
  const { createPipes, silentLogger } = await import('../packages/core/dist/index.js');
  const { sqliteStore } = await import('../packages/store-sqlite/dist/index.js');
  const { createHandler } = await import('../packages/http/dist/index.js');
  const { hardenServer, serverLimitDefaults, createNodeListener } = await import(
    '../packages/http/dist/node.js'
  );
  const pipes = createPipes({
    store: sqliteStore({ filename }),
    secretKey: 'bench-secret-key-0123456789abcdef',
    roles: ['ingest'],
    logger: silentLogger,
    sandbox: { workers: 1 },
  });
  await pipes.sources.create({ name: 'Web', slug: 'web' });
  await pipes.start();
  const server = hardenServer(createServer(createNodeListener(createHandler(pipes))));
  server.listen(0, '127.0.0.1', () =>
    process.send({ port: server.address().port, cap: serverLimitDefaults.maxConnectionsPerAddress }),
  );
  process.on('message', async (message) => {
    if (message !== 'stop') return;
    server.closeAllConnections();
    server.close();
    await pipes.stop({ graceMs: 1000 });
    await pipes.store.close();
    process.exit(0);
  });
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3]);
} else {
  await main();
}

// --- the clients (this process) -----------------------------------------------------------------

async function main() {
  const filename = join(tempDir('openpipes-bench-connections-'), 'openpipes.db');
  const child = fork(self, ['--serve', filename], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port, cap } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  });
  const extra = { cap, requests: requestsPerRun, load: loadavg()[0].toFixed(2) };
  try {
    await warmUp(port);
    await measure('baseline', port, extra);

    const held = await holdCap(port, cap);
    await measure('cap_held', port, extra);
    const flood = startFlood(port);
    await measure('cap_held_and_flood', port, extra);
    const floodCounts = await flood.stop();
    const stillOpen = held.filter((socket) => socket.readyState === 'open').length;
    // The figures mean something only if the cap was held the whole time and the flood refused.
    report('connections', 'stalled_connections_held', stillOpen, 'connections', { cap });
    report('connections', 'flood_connections_refused', floodCounts.refused, 'connections', {
      served: floodCounts.served,
    });
    for (const socket of held) socket.destroy();
    // The same client again with the attacker gone: the first baseline may still carry warm-up.
    await measure('after_release', port, extra);
  } finally {
    await new Promise((resolve) => {
      child.once('exit', resolve);
      child.send('stop');
    });
  }
}

/** One GET /healthz; resolves with its latency in ms. */
function healthz(port, agent) {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`/healthz answered ${res.statusCode}`));
        else resolve(performance.now() - started);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function warmUp(port) {
  for (const agent of [new Agent({ keepAlive: true, maxSockets: 1 }), new Agent({ keepAlive: false })]) {
    for (let i = 0; i < 1000; i++) await healthz(port, agent);
    agent.destroy();
  }
}

async function measure(phase, port, extra) {
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  const fresh = new Agent({ keepAlive: false });
  for (const [connection, agent] of [
    ['keep_alive', keepAlive],
    ['new_connection', fresh],
  ]) {
    const latencies = [];
    for (let i = 0; i < requestsPerRun; i++) latencies.push(await healthz(port, agent));
    latencies.sort((a, b) => a - b);
    const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    for (const [metric, value] of [
      ['p50', at(0.5)],
      ['p99', at(0.99)],
      ['max', latencies[latencies.length - 1]],
    ]) {
      report('connections', `healthz_${metric}_${phase}`, value, 'ms', { connection, ...extra });
    }
  }
  keepAlive.destroy();
  fresh.destroy();
}

/** Opens `cap` connections from the attacker address; each declares a body it never sends. */
async function holdCap(port, cap) {
  const sockets = [];
  for (let i = 0; i < cap; i++) {
    const socket = await new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, localAddress: attacker });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    socket.on('error', () => {});
    socket.write(
      'POST /collect/web HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
    );
    sockets.push(socket);
  }
  return sockets;
}

/** Keeps opening connections from the attacker address, 8 at a time, until stopped. */
function startFlood(port) {
  let running = true;
  const counts = { refused: 0, served: 0 };
  const one = () =>
    new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port, localAddress: attacker });
      let text = '';
      s.on('data', (chunk) => {
        text += chunk;
      });
      s.on('error', () => {});
      s.on('close', () => {
        if (text.includes('"status":"ok"')) counts.served++;
        else counts.refused++;
        resolve();
      });
      s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    });
  const loops = Array.from({ length: 8 }, async () => {
    while (running) await one();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return counts;
    },
  };
}
