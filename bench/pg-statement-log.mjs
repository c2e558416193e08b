// Sums the statements PostgreSQL logged for one database (postgres-pipeline.bench.mjs with
// BENCH_LOG_STATEMENTS=1: log_min_duration_statement = 0 on the round's database) per statement and
// protocol step: parse (parse analysis, rewrite), bind (planning, for an unnamed or custom-planned
// statement; reading the parameters), execute; `statement` is a simple-protocol query.
//   node bench/pg-statement-log.mjs /var/log/postgresql/postgresql-15-main.log bench_pgpipe_123_0 [events]
// Prints one JSON line per statement (its first 90 characters), most total time first.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const [file, database, events = '20000'] = process.argv.slice(2);
const head = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \w+ \[(\d+)\] (\S*)@(\S+) /;
const entry = /LOG: {2}duration: ([\d.]+) ms {2}(parse|bind|execute|statement)( [^:]*)?: (.*)$/;
const totals = new Map();
let current = null;
const flush = () => {
  if (!current) return;
  const text = current.text.replace(/\s+/g, ' ').trim().slice(0, 90);
  const key = `${current.step}\t${text}`;
  const t = totals.get(key) ?? { step: current.step, text, calls: 0, ms: 0 };
  t.calls++;
  t.ms += current.ms;
  totals.set(key, t);
  current = null;
};
for await (const line of createInterface({ input: createReadStream(file) })) {
  const h = head.exec(line);
  if (!h) {
    if (current && /^\s/.test(line)) current.text += ` ${line}`;
    continue;
  }
  flush();
  if (h[3] !== database) continue;
  const e = entry.exec(line);
  if (e) current = { ms: Number(e[1]), step: e[2], text: e[4] };
}
flush();
const list = [...totals.values()].sort((a, b) => b.ms - a.ms);
const all = list.reduce((n, t) => n + t.ms, 0);
const perStep = {};
for (const t of list) perStep[t.step] = (perStep[t.step] ?? 0) + t.ms;
const per1000 = (ms) => Math.round((ms / Number(events)) * 1000 * 10) / 10;
console.log(
  JSON.stringify({
    total_ms_per_1000_events: per1000(all),
    by_step: Object.fromEntries(Object.entries(perStep).map(([k, v]) => [k, per1000(v)])),
  }),
);
for (const t of list.slice(0, 40))
  console.log(
    JSON.stringify({
      step: t.step,
      calls: t.calls,
      ms_per_1000_events: per1000(t.ms),
      ms_per_call: Math.round((t.ms / t.calls) * 1000) / 1000,
      text: t.text,
    }),
  );
