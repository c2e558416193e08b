/**
 * Operator safety-net scenarios every store runs: failure alerts to Slack, Teams and a generic
 * webhook (stand-ins on 127.0.0.1 that check the documented message formats), noise control and
 * recovery, a dead alert channel next to live deliveries, the audit trail with actors, versions and
 * revert, and API keys. Real store, real sandbox, real HTTP.
 *
 * The scenarios live one module per concern beside this file, around one set of fixtures
 * (engine, stand-in servers, cleanup); each case reads top to bottom as one scenario.
 * Tests that show "nothing more was sent" await `pipes.idle()`, never a sleep.
 *
 * ```ts
 * runEngineAlerts({ name: 'sqlite', openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }) });
 * ```
 */
import { describe } from 'vitest';
import type { EngineConformanceOptions } from '../engine.js';
import { auditTrailCases } from './audit-trail.js';
import { alertCases } from './fixtures.js';
import { notificationCases } from './notifications.js';
import { versionAndKeyCases } from './versions-and-keys.js';

export function runEngineAlerts(options: EngineConformanceOptions): void {
  describe(`alerts, audit trail, versions and API keys on ${options.name}`, () => {
    const t = alertCases(options);
    notificationCases(t);
    auditTrailCases(t);
    versionAndKeyCases(t);
  });
}
