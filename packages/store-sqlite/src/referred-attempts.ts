/**
 * Reading delivery rows whose detail refers to an attempt (the kit's `packed.ts`, tag 0x02): the
 * attempts they name, read by primary key, for the kit's mappers.
 */
import { detailRefs, type ReferredAttempts } from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';

const readSql = 'SELECT data FROM delivery_attempts WHERE delivery_id = ? AND number = ?';

/**
 * The attempts `rows`' details refer to, by delivery id (empty when none does: a pending delivery,
 * or a detail stored whole). Call inside the transaction that read the rows.
 *
 * @example
 * ```ts
 * const deliveries = rows.map((row) => toDeliveryRow(row, referredAttempts(ctx, rows)));
 * ```
 */
export function referredAttempts(
  { prepare }: Pick<SqliteContext, 'prepare'>,
  rows: Parameters<typeof detailRefs>[0],
): ReferredAttempts {
  const refs = detailRefs(rows);
  const found = new Map<string, Buffer | string>();
  if (refs.length === 0) return found;
  const read = prepare(readSql);
  for (const { id, number } of refs) {
    const row = read.get(id, number) as { data: Buffer | string } | undefined;
    if (row) found.set(id, row.data);
  }
  return found;
}
