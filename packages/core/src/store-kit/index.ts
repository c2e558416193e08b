/**
 * `@openpipes/core/store-kit`: what every store implementation needs and would otherwise write
 * again: row mapping, the contract's errors and argument checks, and the one table declaration
 * both stores type their SQL with. For store authors; applications never import it.
 *
 * @example
 * ```ts
 * import { checkDeliveryIds, toDeliveryRow } from '@openpipes/core/store-kit';
 * ```
 */

export * from './erasure.js';
export * from './methods.js';
export * from './outcome-packer.js';
export * from './packed.js';
export * from './records.js';
export * from './rows.js';
export * from './rules.js';
export * from './tables.js';
