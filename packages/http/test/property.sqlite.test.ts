/**
 * The property suite (test/property/harness.ts) on SQLite: every operation of the OpenAPI
 * document, at least 100 random and mutated requests each, against a real server.
 */
import { localDocument } from './openapi-check.js';
import { runPropertySuite } from './property/harness.js';

runPropertySuite('sqlite', await localDocument());
