/**
 * Reading delivery rows whose detail refers to an attempt (the kit's `packed.ts`, tag 0x02): the
 * attempts they name, in one statement by primary key, for the kit's mappers.
 */
import { detailRefs, type ReferredAttempts } from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext } from './connection.js';

/**
 * The attempts `rows`' details refer to, by delivery id (no statement when none does: pending
 * deliveries, or details stored whole).
 *
 * @example
 * ```ts
 * const referred = await referredAttempts(ctx, rows);
 * return rows.map((row) => toDeliveryRow(row, referred));
 * ```
 */
export async function referredAttempts(
  { db, T }: Pick<PgContext, 'db' | 'T'>,
  rows: Parameters<typeof detailRefs>[0],
): Promise<ReferredAttempts> {
  const refs = detailRefs(rows);
  const found = new Map<string, Buffer>();
  if (refs.length === 0) return found;
  const { rows: attempts } = await sql<{ delivery_id: string; data: Buffer }>`
    SELECT a.delivery_id, a.data
    FROM unnest(${refs.map((r) => r.id)}::text[], ${refs.map((r) => r.number)}::integer[]) AS r(id, number)
    JOIN ${T('delivery_attempts')} a ON a.delivery_id = r.id AND a.number = r.number
  `.execute(db);
  for (const a of attempts) found.set(a.delivery_id, a.data);
  return found;
}
