// Redaction on the delivery hot path: what one delivery record costs to redact (the Meta example
// exchange with its two bound secrets), a 64 KiB response body, and building a redactor.
//   npm run bench -- redact
import { createRedactor } from '@openpipes/core';
import { report } from './lib.mjs';

const token = 'EAAB-super-secret-access-token-7f3a9c';
const pixel = '998877665544';
const secrets = { META_ACCESS_TOKEN: token, META_PIXEL_ID: pixel };

// A delivery record as record.ts shapes it (one event of a batch), secrets already in the URL.
const row = {
  event_name: 'Purchase',
  event_time: 1767225600,
  user_data: {
    em: 'a'.repeat(64),
    ph: 'b'.repeat(64),
    fbp: 'fb.1.1714816462.1234567890',
    fbc: 'fb.1.1714816462.AbCdEfGh',
    client_ip_address: '203.0.113.7',
    client_user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15',
  },
  custom_data: { currency: 'EUR', value: 42.5 },
  event_id: 'ord_70213',
  action_source: 'website',
};
const record = {
  request: {
    url: `https://graph.facebook.com/v19.0/${pixel}/events`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    payload: { data: [row], access_token: token },
  },
  response: {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: { events_received: 1, messages: [], fbtrace_id: 'AbC123xyz' },
  },
  error: null,
  started_at: '2026-01-01T00:00:00.000Z',
  duration_ms: 12,
};
const logs = [{ level: 'info', message: 'sent 1 event to meta' }];

function time(fn, minMs = 1500) {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < minMs) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
  }
  return n / ((performance.now() - started) / 1000);
}

const redact = createRedactor(secrets);
report(
  'redact',
  'delivery_record',
  time(() => redact(record) && redact(logs)),
  'records/s',
  {
    secrets: 2,
  },
);

const big = `${'x'.repeat(40_000)} ${token} ${'y'.repeat(25_000)}`;
report(
  'redact',
  'body_64k',
  time(() => redact(big), 1000),
  'bodies/s',
  { chars: big.length },
);

report(
  'redact',
  'create_redactor',
  time(() => createRedactor(secrets), 1000),
  'redactors/s',
  {
    secrets: 2,
  },
);
