/**
 * Every admin route under `/api`, one file per resource. Every mutation passes the API key's name
 * and the request id to the engine for the audit trail.
 */
import type { DestinationTemplate, Logger, Pipes } from '@openpipes/core';
import type { Route } from '../route.js';
import { alertRoutes } from './alerts.js';
import { apiKeyRoutes } from './api-keys.js';
import { auditRoutes } from './audit.js';
import { configRoutes } from './config.js';
import { deliveryRoutes } from './deliveries.js';
import { destinationRoutes } from './destinations.js';
import { erasureRoutes } from './erasure.js';
import { eventTypeRoutes } from './event-types.js';
import { pipeRoutes } from './pipes.js';
import { profileRoutes } from './profiles.js';
import { secretRoutes } from './secrets.js';
import { sessionRoutes } from './session.js';
import { sourceRoutes } from './sources.js';
import { writeKeyRoutes } from './write-keys.js';

export interface AdminOptions {
  templates: DestinationTemplate[];
  /** Where failures inside a streamed answer (which has already sent its status) are logged. */
  logger?: Logger;
}

/** Every admin route, in the order the OpenAPI document lists them. */
export function adminRoutes(pipes: Pipes, options: AdminOptions): Route[] {
  return [
    ...sourceRoutes(pipes),
    ...writeKeyRoutes(pipes),
    ...eventTypeRoutes(pipes),
    ...secretRoutes(pipes),
    ...destinationRoutes(pipes, options.templates),
    ...pipeRoutes(pipes),
    ...alertRoutes(pipes),
    ...deliveryRoutes(pipes),
    ...auditRoutes(pipes),
    ...profileRoutes(pipes),
    ...erasureRoutes(pipes),
    ...configRoutes(pipes, options.logger),
    ...apiKeyRoutes(pipes),
    ...sessionRoutes(),
  ];
}
