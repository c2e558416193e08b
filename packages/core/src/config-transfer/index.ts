/**
 * Config transfer: export an instance's configuration as one JSON document and import it into
 * another (staging → production). Entities are matched by their natural keys (source slug, event
 * type / destination / pipe / alert channel name, secret key), never by id, so the same document
 * imports into any instance. Secrets travel as names only: an import names the values the target
 * still needs, and never invents one.
 *
 * An import is a plan, then its application: the plan (`plan/`, one planner per entity kind)
 * compares each entity of the document with the target (`create`, `update` with the fields that
 * differ, `unchanged`, `skip` with the reason, `missing` for a secret without a value), checks
 * everything that can fail (references, code that does not compile, JSON Schemas) before the first
 * write, then applies it through the registries (`api.ts`). Importing the same document twice
 * changes nothing the second time. Entities the document does not mention are left alone.
 */
export * from './api.js';
export * from './document.js';
export { buildConfigDocument } from './export.js';
export { planConfigImport } from './plan/index.js';
