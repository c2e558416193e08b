import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deliveredAttempt } from './attempt.test-support.js';
import { attemptRefOf, packAttemptRef, packJson, unpackJson } from './packed.js';
import { attemptFromJson, detailRefs, packAttempt, packOutcome } from './records.js';
import { type DeliveryRowText, toDeliveryRow } from './rows.js';

const detail = JSON.stringify({
  output: null,
  request: {
    url: 'https://graph.example/v19.0/[secret:PIXEL]/events',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    payload: { data: [{ event_name: 'Purchase' }] },
  },
  response: { status: 200, headers: {}, body: { events_received: 1 } },
  error: null,
});

describe('packed columns (migration 11)', () => {
  it('stores a detail tagged and compressed, and reads back the very text written', () => {
    const packed = packJson(detail);
    expect(packed[0]).toBe(0x01);
    expect(packed.length).toBeLessThan(detail.length / 2);
    expect(unpackJson(packed)).toBe(detail);
    // A Uint8Array that is not a Buffer (another driver), at an offset into its buffer.
    const copy = new Uint8Array(packed.length + 3);
    copy.set(packed, 3);
    expect(unpackJson(copy.subarray(3))).toBe(detail);
  });

  it('keeps key order, \\u0000, lone surrogates written escaped, and big numbers exactly', () => {
    const text = `{"z":1,"a":"\\u0000 é 😀 \\ud800","n":12345678901234567890,"f":0.1,"pad":"${'x'.repeat(200)}"}`;
    expect(unpackJson(packJson(text))).toBe(text);
  });

  it('reads back texts whose packed bytes fill more than one output chunk, or do not shrink', () => {
    // Longer than one 16 KiB chunk even packed: base64 (6 bits a character) of hashes.
    const bytes = Buffer.concat(
      Array.from({ length: 1_000 }, (_, i) => createHash('sha256').update(String(i)).digest()),
    );
    const digits = bytes.toString('base64');
    const long = JSON.stringify({ digits, again: digits.slice(0, 5_000) });
    const packed = packJson(long);
    expect(packed[0]).toBe(0x01);
    expect(packed.length).toBeGreaterThan(16 * 1024);
    expect(unpackJson(packed)).toBe(long);
    // Packing would not shrink it (its packed form is larger than the text): stored as it is.
    const noise = JSON.stringify(
      Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 151 + 17) % 256)).toString('latin1'),
    );
    expect(unpackJson(packJson(noise))).toBe(noise);
  });

  it('reads rows written before: JSON text (SQLite) and JSON bytes (PostgreSQL after the migration)', () => {
    expect(unpackJson(detail)).toBe(detail);
    expect(unpackJson(Buffer.from(detail, 'utf8'))).toBe(detail);
    expect(unpackJson(Buffer.from('[1,2]', 'utf8'))).toBe('[1,2]');
  });

  it('stores a short text as it is (nothing to gain), which the first byte tells', () => {
    const empty = '{"output":null,"request":null,"response":null,"error":null}';
    expect(packJson(empty).toString('utf8')).toBe(empty);
    expect(unpackJson(packJson(empty))).toBe(empty);
  });

  it('decodes what version 1 wrote: its dictionary never changes (a new one needs a new tag)', () => {
    const written =
      'AUMkP4iJOCMmvSixIEMvtSIxtyAnVb/M0FLPQB8WkAGeEa4+sfrgxFdMkxhESecBpUXJGYnFqUq1sUTGIHIRA3ZkfFFqcmpmWWqKkpUhWqjWAgA=';
    expect(unpackJson(Buffer.from(written, 'base64'))).toBe(detail);
  });

  it('packs an attempt and reads it back as the record shows it', () => {
    const exchange = {
      request: JSON.parse(detail).request,
      response: JSON.parse(detail).response,
      error: null,
      started_at: '2026-05-04T10:00:00.000Z',
      duration_ms: 12,
    };
    const attempt = {
      number: 1,
      status: 'delivered' as const,
      started_at: '2026-05-04T10:00:00.000Z',
      duration_ms: 12,
      pipe_version: 2,
      destination_version: 3,
      request: exchange.request,
      response: exchange.response,
      error: null,
      exchanges: [exchange],
      logs: [],
    };
    const stored = packAttempt(attempt);
    expect(stored[0]).toBe(0x01);
    expect(JSON.stringify(attemptFromJson(stored))).toBe(JSON.stringify(attempt));
    // An attempt row written before migration 11, as text.
    expect(JSON.stringify(attemptFromJson(JSON.stringify(attempt)))).toBe(JSON.stringify(attempt));
  });

  it("stores a detail that is its attempt's as a reference, the output with the attempt, and reads both back", () => {
    const { request, response } = JSON.parse(detail);
    const attempt = deliveredAttempt(12, request, response);
    const output = [{ event_type: 'purchase', z: 1, a: 2 }];
    const stored = packOutcome({ detail: { output, request, response, error: null }, attempt });
    expect([...stored.detail]).toEqual([0x02, 0x31, 0x32]);
    expect(attemptRefOf(stored.detail)).toBe(12);
    expect(attemptRefOf(packAttemptRef(7))).toBe(7);
    expect(unpackJson(stored.detail)).toBe('{"attempt":12}');
    // The attempt reads back without the output; the detail, from it, exactly as written.
    expect(JSON.stringify(attemptFromJson(stored.attempt!))).toBe(JSON.stringify(attempt));
    const row = {
      id: 'dlv_1',
      detail: stored.detail,
      due_at: null,
      replayed_at: null,
      delivered_at: null,
      created_at: attempt.started_at,
      updated_at: attempt.started_at,
    } as unknown as DeliveryRowText;
    expect(detailRefs([row])).toEqual([{ id: 'dlv_1', number: 12 }]);
    const read = toDeliveryRow(row, new Map([['dlv_1', stored.attempt!]]));
    expect(JSON.stringify(read.detail)).toBe(JSON.stringify({ output, request, response, error: null }));
    // Without the attempt it names (deleted by hand, pruned between two reads), the record still
    // reads and says what is missing: a page or a claim never fails on it.
    expect(toDeliveryRow(row).detail).toEqual({
      output: null,
      request: null,
      response: null,
      error: expect.objectContaining({
        code: 'INTERNAL',
        stage: 'engine',
        message: expect.stringMatching(/attempt 12/),
      }),
    });
    // A detail that is not its attempt's (other objects, an erasure mark, no attempt) is stored whole.
    const whole = { output, request: { ...request }, response, error: null };
    expect(packOutcome({ detail: whole, attempt }).detail[0]).toBe(0x01);
    expect(packOutcome({ detail: { ...whole, request, erased_at: 'x' }, attempt }).detail[0]).toBe(0x01);
    expect(packOutcome({ detail: { ...whole, request }, attempt: null }).attempt).toBeNull();
  });
});
