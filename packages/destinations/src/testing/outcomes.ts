/**
 * What template tests expect of a batch's deliveries (tests only): every delivery final, no
 * contract violation at the stand-in, and which of them were delivered.
 */
import type { Delivery, IncomingEvent, Pipes } from '@openpipes/core';
import { expect } from 'vitest';
import { byEventId, finalRecords } from './engine.js';

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
  const records = byEventId(await finalRecords(pipes, pipeId, events.length));
  expect(platform.violations).toEqual([]);
  return records;
}

/** Expects the deliveries of `eventIds` delivered. */
export function expectDelivered(records: Map<string, Delivery>, ...eventIds: string[]): void {
  for (const id of eventIds) expect(records.get(id)?.status, id).toBe('delivered');
}
