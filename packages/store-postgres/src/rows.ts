/**
 * Row mapping on PostgreSQL. The mappers themselves are the kit's (`@openpipes/core/store-kit`),
 * shared with SQLite; what is PostgreSQL's own is selecting JSON columns as text, so `pg` hands
 * back the text the kit parses rather than a value it parsed with its own type parsers (the packed
 * columns of migration 11 are bytea, which `pg` hands back as a Buffer).
 */
import { deliveryColumnNames } from '@openpipes/core/store-kit';
import { sql } from 'kysely';

/** Every column of `deliveries` under `alias` (`detail` as its packed bytes, read by the kit). */
export const deliveryColumns = (alias: string) =>
  sql.raw(deliveryColumnNames.map((c) => `${alias}.${c}`).join(', '));

/** `= ANY($1::text[])`: one array parameter for a list of ids, whatever its length. */
export const anyOf = (ids: readonly string[]) => sql<string>`ANY(${ids}::text[])`;

/** The columns of `deliveries` but `except` (selected another way), for the query builder. */
export const deliveryColumnsBut = <E extends DeliveryColumn>(except: E) =>
  deliveryColumnNames.filter((c): c is Exclude<DeliveryColumn, E> => c !== except);

type DeliveryColumn = (typeof deliveryColumnNames)[number];
