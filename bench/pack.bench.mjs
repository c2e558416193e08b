// Packing delivery outcomes (store-kit's records.ts and outcome-packer.ts): what the event loop's
// thread spends per outcome, and what the whole process spends (process.cpuUsage: every thread, the
// packer's worker included), for 2,000 delivered outcomes of the Meta example's shape (~1.7 KB of
// attempt JSON each) in batches of 100, as `completeDeliveries` gets them. Variants, alternated
// round by round, medians of the rounds with their min and max:
//   sync    packOutcome per outcome (JSON and deflateRawSync on the event loop's thread), as the
//           stores packed before
//   worker  createOutcomePacker's pack(): the JSON on the event loop's thread, the deflate on the
//           packer's worker thread, one message per batch, the bytes back in one transferred buffer
// (node:zlib's async deflateRaw, the deflate on libuv's threadpool, was measured as well while
// choosing: ~310 µs of event-loop time per outcome against sync's ~165 at load 7, a zlib stream
// set up per value, so it is not kept here.)
// Main-thread time: its CPU time (main_thread_cpu_per_outcome, Linux), and
// performance.eventLoopUtilization's `active` over each batch, from the call until its promise
// settles (main_thread_per_outcome: on a loaded machine it counts time spent waiting for a core).
// Every variant's bytes are checked against packOutcome's first.
//   npm run bench -- pack
import { existsSync, readFileSync } from 'node:fs';
import { attemptToJson, createOutcomePacker, packOutcome } from '@openpipes/core/store-kit';

// The event loop's thread's own CPU time in ns (Linux: its schedstat; the main thread's id is the
// process's), which a loaded machine does not inflate as it does wall time; null elsewhere.
const schedstat = `/proc/self/task/${process.pid}/schedstat`;
const mainThreadCpuNs = existsSync(schedstat)
  ? () => Number(readFileSync(schedstat, 'utf8').split(' ')[0])
  : () => null;

await main();

async function main() {
  const { report } = await import('./lib.mjs');
  const OUTCOMES = 2000;
  const BATCH = 100;
  const ROUNDS = 9;

  const outcomes = Array.from({ length: OUTCOMES }, (_, i) => outcome(i));
  const attemptBytes = Buffer.byteLength(attemptToJson(outcomes[0].attempt, outcomes[0].detail.output));
  const batches = [];
  for (let i = 0; i < OUTCOMES; i += BATCH) batches.push(outcomes.slice(i, i + BATCH));

  const packer = createOutcomePacker();
  const variants = {
    sync: async (batch) => batch.map((o) => packOutcome(o)),
    worker: (batch) => packer.pack(batch),
  };

  // Same bytes as packOutcome, or the numbers mean nothing.
  await new Promise((r) => setImmediate(r));
  for (const [name, pack] of Object.entries(variants)) {
    const got = await pack(batches[0]);
    batches[0].forEach((o, i) => {
      const want = packOutcome(o);
      if (!want.attempt.equals(got[i].attempt) || !want.detail.equals(got[i].detail))
        throw new Error(`${name}: bytes differ from packOutcome at ${i}`);
    });
  }

  const samples = Object.fromEntries(
    Object.keys(variants).map((k) => [k, { main: [], mainCpu: [], cpu: [], wall: [] }]),
  );
  for (let round = 0; round < ROUNDS + 1; round++) {
    const order = Object.keys(variants);
    if (round % 2 === 1) order.reverse();
    for (const name of order) {
      globalThis.gc?.();
      await new Promise((r) => setImmediate(r));
      let main = 0;
      const cpu0 = process.cpuUsage();
      const main0 = mainThreadCpuNs();
      const t0 = performance.now();
      for (const batch of batches) {
        const elu0 = performance.eventLoopUtilization();
        await variants[name](batch);
        main += performance.eventLoopUtilization(elu0).active;
      }
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const mainCpu = main0 === null ? null : mainThreadCpuNs() - main0;
      if (round === 0) continue; // warm-up
      if (mainCpu !== null) samples[name].mainCpu.push(mainCpu / 1000 / OUTCOMES);
      samples[name].main.push((main * 1000) / OUTCOMES);
      samples[name].cpu.push((cpu.user + cpu.system) / OUTCOMES);
      samples[name].wall.push((wall * 1000) / OUTCOMES);
    }
  }
  await packer.close();

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const spread = (xs) => [Math.min(...xs), Math.max(...xs)].map((x) => Math.round(x * 10) / 10);
  for (const [name, s] of Object.entries(samples)) {
    const extra = {
      variant: name,
      rounds: ROUNDS,
      outcomes: OUTCOMES,
      batch: BATCH,
      attempt_bytes: attemptBytes,
    };
    report('pack', 'main_thread_per_outcome', median(s.main), 'µs', { ...extra, spread: spread(s.main) });
    if (s.mainCpu.length > 0) {
      report('pack', 'main_thread_cpu_per_outcome', median(s.mainCpu), 'µs', {
        ...extra,
        spread: spread(s.mainCpu),
      });
    }
    report('pack', 'cpu_per_outcome', median(s.cpu), 'µs', { ...extra, spread: spread(s.cpu) });
    report('pack', 'wall_per_outcome', median(s.wall), 'µs', { ...extra, spread: spread(s.wall) });
  }
}

/** A delivered outcome as the engine records it: one Meta CAPI request, its answer, one exchange. */
function outcome(i) {
  const hex = (seed) => {
    let s = '';
    let x = seed * 2654435761;
    while (s.length < 64) {
      x = (x * 1103515245 + 12345) >>> 0;
      s += x.toString(16).padStart(8, '0');
    }
    return s.slice(0, 64);
  };
  const at = new Date(Date.UTC(2026, 4, 4, 10, 0, i % 60, i % 1000)).toISOString();
  const output = [
    {
      event_type: 'purchase',
      event_time: at,
      event_payload: {
        event_name: 'Purchase',
        event_time: 1777888800 + i,
        event_id: `ord_${70000 + i}`,
        action_source: 'website',
        user_data: {
          em: hex(i + 1),
          ph: hex(i + 7),
          fbp: `fb.1.1714816462.${100000 + i}`,
          fbc: `fb.1.1714816462.IwAR${i}`,
          client_ip_address: `203.0.113.${i % 250}`,
          client_user_agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)',
        },
        custom_data: { currency: 'EUR', value: 19.9 + (i % 100), order_id: `ord_${70000 + i}` },
      },
    },
  ];
  const request = {
    url: 'https://graph.facebook.com/v19.0/[secret:META_PIXEL_ID]/events',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    payload: { data: [output[0].event_payload], access_token: '[secret:META_ACCESS_TOKEN]' },
  };
  const response = {
    status: 200,
    headers: {
      'content-type': 'application/json; charset=UTF-8',
      'x-fb-trace-id': `Ab${hex(i + 3).slice(0, 9)}`,
      date: 'Mon, 04 May 2026 10:00:00 GMT',
      'cache-control': 'private, no-cache, no-store, must-revalidate',
      'content-length': '79',
    },
    body: { events_received: 1, messages: [], fbtrace_id: `Ab${hex(i + 3).slice(0, 9)}` },
  };
  const exchange = { request, response, error: null, started_at: at, duration_ms: 80 + (i % 40) };
  const attempt = {
    number: 1,
    status: 'delivered',
    started_at: at,
    duration_ms: 85 + (i % 40),
    pipe_version: 3,
    destination_version: 2,
    request,
    response,
    error: null,
    exchanges: [exchange],
    logs: [{ level: 'info', message: 'sent 1 event to meta', at }],
  };
  return {
    id: `dlv_${String(i).padStart(6, '0')}`,
    status: 'delivered',
    detail: { output, request, response, error: null },
    attempt,
  };
}
