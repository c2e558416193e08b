import Database from 'better-sqlite3';
import { packJson, unpackJson, packAttempt, packOutcome, attemptFromJson, toDeliveryRow } from '@openpipes/core/store-kit';
const db = new Database('/tmp/h1/base-engine.db', { readonly: true });
const rows = db.prepare("SELECT d.detail, a.data FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id LIMIT 3000").all();
const outcomes = rows.map(r => { const attempt = attemptFromJson(r.data); const d = JSON.parse(unpackJson(r.detail)); return { detail: { output: d.output, request: attempt.request, response: attempt.response, error: attempt.error }, attempt }; });
function t(name, fn) { for (const o of outcomes) fn(o); const c0 = process.cpuUsage(); let n = 0, bytes = 0; for (let k = 0; k < 5; k++) for (const o of outcomes) { bytes += fn(o); n++; } const c = process.cpuUsage(c0); console.log(name.padEnd(12), ((c.user + c.system) / n).toFixed(1), 'cpu-us per outcome', (bytes / n).toFixed(0), 'B'); }
for (let i = 0; i < 3; i++) {
  t('before', (o) => packJson(JSON.stringify(o.detail)).length + packAttempt(o.attempt).length);
  t('after', (o) => { const p = packOutcome(o); return p.detail.length + p.attempt.length; });
}
// read: detail of a row
const packedOld = outcomes.map(o => ({ id: 'x', detail: packJson(JSON.stringify(o.detail)) }));
const packedNew = outcomes.map(o => { const p = packOutcome(o); return { id: 'x', detail: p.detail, a: p.attempt }; });
const base = { id: 'x', event_ref: 'e', source_id: 's', pipe_id: 'p', destination_id: 'd', event_id: 'e', event_type: 't', status: 'delivered', attempt_count: 1, pipe_version: 1, destination_version: 1, pinned_pipe_version: null, replayed_at: null, attempts_before_replay: 0, test_mode: 0, due_at: null, lease_owner: null, created_at: '2026-12-06T20:41:30.086Z', updated_at: '2026-12-06T20:41:30.086Z', delivered_at: null, trace_parent: null, filter_reason: null };
for (let i = 0; i < 2; i++) {
  let c0 = process.cpuUsage(); for (const r of packedOld) toDeliveryRow({ ...base, detail: r.detail }); let c = process.cpuUsage(c0); console.log('read before', ((c.user + c.system) / packedOld.length).toFixed(1));
  c0 = process.cpuUsage(); for (const r of packedNew) toDeliveryRow({ ...base, detail: r.detail }, new Map([['x', r.a]])); c = process.cpuUsage(c0); console.log('read after', ((c.user + c.system) / packedNew.length).toFixed(1));
}
