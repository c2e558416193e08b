/**
 * What template tests expect of a batch's deliveries (tests only): every delivery final, no
 * contract violation at the stand-in, which of them were delivered, and which were refused before
 * anything was sent.
 */
import type { Delivery, IncomingEvent, Pipes } from '@openpipes/core';
import { expect } from 'vitest';
import { finalRecords, finalRecordsById } from './engine.js';

/**
 * Ingests `events` from source `web`, waits until each one's delivery is final, expects the stand-in
 * to have seen no contract violation, and returns the deliveries by event id.
 */
export async function deliverAll(
  platform: { violations: string[] },
  pipes: Pipes,
  pipeId: string,
  events: IncomingEvent[],
): Promise<Map<string, Delivery>> {
  await pipes.ingest('web', events);
  const records = await finalRecordsById(pipes, pipeId, events.length);
  expect(platform.violations).toEqual([]);
  return records;
}

/**
 * `deliverAll` for one event: ingests it, waits until its delivery is final, expects no contract
 * violation at the stand-in, and returns the delivery (whatever its status; the caller says which).
 */
export async function deliverOne(
  platform: { violations: string[] },
  pipes: Pipes,
  pipeId: string,
  event: IncomingEvent,
): Promise<Delivery> {
  await pipes.ingest('web', [event]);
  const [record] = await finalRecords(pipes, pipeId, 1);
  expect(platform.violations).toEqual([]);
  if (!record) throw new Error('deliverOne: the event has no delivery');
  return record;
}

/**
 * Expects the delivery of `eventId` failed by the template's own check before sending (too old,
 * nothing to match on): no request recorded, and an error matching `error`.
 */
export function expectRefusedBeforeSending(
  records: Map<string, Delivery>,
  eventId: string,
  error: Record<string, unknown>,
): void {
  expect(records.get(eventId), eventId).toMatchObject({ status: 'failed', request: null, error });
}

/** Expects the deliveries of `eventIds` delivered. */
export function expectDelivered(records: Map<string, Delivery>, ...eventIds: string[]): void {
  for (const id of eventIds) expect(records.get(id)?.status, id).toBe('delivered');
}
