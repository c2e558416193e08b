/**
 * How stored records become the public objects the registries return: the record's data with its
 * id, version and times, checked against the entity's schema.
 */
import { destinationSchema, eventTypeSchema, pipeSchema, secretSchema, sourceSchema } from '../schemas.js';
import { presenter } from './registry.js';

export const presentSource = presenter(sourceSchema);
export const presentEventType = presenter(eventTypeSchema);
export const presentDestination = presenter(destinationSchema);
export const presentPipe = presenter(pipeSchema);
export const presentSecret = presenter(secretSchema);
