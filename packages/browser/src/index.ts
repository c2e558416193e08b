/**
 * `@openpipes/browser`: the OpenPipes tag for web pages (docs/browser-tag.md). Import it in a bundled
 * site, or load the built `openpipes.js` (served by OpenPipes at `<mount>/openpipes.js`), which sets
 * the global `openpipes` to this module.
 *
 * @example
 * ```ts
 * import * as openpipes from '@openpipes/browser';
 * openpipes.init({ endpoint: 'https://shop.example/openpipes', source: 'web' });
 * const eventId = openpipes.track('purchase', { value: 42.5, currency: 'EUR', order_id: 'ord_1' });
 * ```
 */
export type { ConsentInput, ConsentState, ConsentValue } from './consent.js';
export type { TagEvent } from './queue.js';
export { consent, flush, getAnonymousId, type InitOptions, init, type TrackOptions, track } from './tag.js';
