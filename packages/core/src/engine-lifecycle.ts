/**
 * The engine's gate: every public operation waits for the store's schema and refuses after `stop()`.
 * `createPipes` (engine.ts) wraps its API surface with `guard` / `guardAll`.
 */

import { PipesError } from './errors.js';
import type { Store } from './store.js';

/** Wraps an async operation so it refuses after stop and first waits for the schema. */
export type Guard = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => (...args: A) => Promise<R>;

export interface EngineGate {
  /** Resolves once the schema exists (migrating it first with autoMigrate). */
  ready(): Promise<void>;
  guard: Guard;
  /** Throws `ENGINE_STOPPED` once the engine has been stopped. */
  assertNotStopped(): void;
  /** `pipes.migrate()`: migrates now, whatever autoMigrate says. */
  migrate(): Promise<void>;
  /** Marks the engine stopped; false when it already was. */
  markStopped(): boolean;
  readonly stopped: boolean;
  readonly migrating: boolean;
}

/**
 * Every public operation waits for the schema to exist; `start()` is only needed to dispatch.
 * Without autoMigrate it only checks (and checks again next time while the schema is behind).
 */
export function createEngineGate(store: Store, autoMigrate: boolean): EngineGate {
  let migrated: Promise<void> | null = null;
  let migrating = false;
  let stopped = false;
  const ready = () => {
    if (!migrated) {
      migrating = autoMigrate;
      migrated = checkedMigration(store, autoMigrate).then(
        () => {
          migrating = false;
        },
        (err) => {
          migrating = false;
          migrated = null;
          throw err;
        },
      );
    }
    return migrated;
  };
  const assertNotStopped = () => {
    if (stopped) throw new PipesError({ code: 'ENGINE_STOPPED', message: 'this engine has been stopped' });
  };
  function guard<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A): Promise<R> => {
      assertNotStopped();
      await ready();
      return fn(...args);
    };
  }
  return {
    ready,
    guard,
    assertNotStopped,
    async migrate() {
      assertNotStopped();
      migrating = true;
      try {
        await checkedMigration(store, true);
      } finally {
        migrating = false;
      }
      migrated = Promise.resolve();
    },
    markStopped() {
      if (stopped) return false;
      stopped = true;
      return true;
    },
    get stopped() {
      return stopped;
    },
    get migrating() {
      return migrating;
    },
  };
}

/** Wraps every async method of an API object so it waits for migrations and refuses after stop. */
export function guardAll<T extends object>(api: T, guard: Guard): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(api)) {
    out[key] = typeof value === 'function' ? guard(value as (...args: unknown[]) => Promise<unknown>) : value;
  }
  return out as T;
}

/**
 * Migrates the store (`migrate`), or checks that it needs no migration (throws `MIGRATION_REQUIRED`
 * while it is behind). Either way first refuses, with `SCHEMA_TOO_NEW`, a schema a newer OpenPipes
 * migrated further than this one knows: this version would neither read nor keep what those
 * migrations added (after SQLite migration 13, an older version's erasure misses the first event of
 * every identifier), so it must not serve it.
 */
async function checkedMigration(store: Store, migrate: boolean): Promise<void> {
  const { applied, latest } = await store.migrationStatus();
  if (applied > latest) {
    throw new PipesError({
      code: 'SCHEMA_TOO_NEW',
      message: `the store's schema is at migration ${applied}, newer than this OpenPipes knows (${latest}): run the version that migrated it, or a newer one`,
      details: { applied, latest },
    });
  }
  if (migrate) return store.migrate();
  if (applied >= latest) return;
  throw new PipesError({
    code: 'MIGRATION_REQUIRED',
    message: `the store's schema is at migration ${applied} of ${latest}, and this engine has autoMigrate: false: run pipes.migrate() first`,
    details: { applied, latest },
    retryable: true,
  });
}
