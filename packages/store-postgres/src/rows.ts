/**
 * Row mapping on PostgreSQL. The mappers themselves are the kit's (`@openpipes/core/store-kit`),
 * shared with SQLite; what is PostgreSQL's own is selecting JSON columns as text, so `pg` hands
 * back the text the kit parses rather than a value it parsed with its own type parsers.
 */
import { deliveryColumnNames } from '@openpipes/core/store-kit';
import { sql } from 'kysely';

/** Every column of `deliveries` under `alias`, `detail` as text. */
export const deliveryColumns = (alias: string) =>
  sql.raw(
    deliveryColumnNames
      .map((c) => (c === 'detail' ? `${alias}.detail::text AS detail` : `${alias}.${c}`))
      .join(', '),
  );
