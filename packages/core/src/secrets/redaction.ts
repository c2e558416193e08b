/**
 * Where the engine gets its redactors: one per set of current secret values, plus every retired
 * value (a value replaced by a rotation, or the last value of a deleted secret), built once and
 * reused, because building one costs a fraction of a millisecond and dispatch asks for one per batch.
 *
 * Retired values are read from the store and decrypted once. They are read again when this process
 * retires a value ({@link RedactionSource.invalidate}), when a bound secret's value is seen to
 * change (another process rotated it: it retired the old value before writing the new one), and at
 * least every `refreshMs` (another process deleted a secret).
 */
import type { Store } from '../store.js';
import { createRedactor, type Redactor } from './redact.js';
import type { Vault } from './vault.js';

export interface RedactionSource {
  /**
   * A redactor for what code bound to `current` (key → value, as `send()` gets them) produced:
   * those values and every retired value.
   */
  redactorFor(current: Record<string, string>): Promise<Redactor>;
  /** Reads the retired values again before the next redactor (this process retired one). */
  invalidate(): void;
}

/** Redactors kept; a deployment has about one set of secrets per destination. */
const MAX_REDACTORS = 64;

/**
 * @example
 * ```ts
 * const redaction = createRedactionSource({ store, vault, now: Date.now });
 * const redact = await redaction.redactorFor(await resolveSecrets(destination.secret_ids));
 * ```
 */
export function createRedactionSource(deps: {
  store: Store;
  vault: Vault;
  now: () => number;
  /** Default 60 000. */
  refreshMs?: number;
  /** Told when a retired value cannot be decrypted (it is then skipped). */
  onError?: (message: string, data: Record<string, unknown>) => void;
}): RedactionSource {
  const refreshMs = deps.refreshMs ?? 60_000;
  let retired: Array<[string, string]> = [];
  let generation = 0;
  let signature = '';
  let loadedAt = Number.NEGATIVE_INFINITY;
  let stale = true;
  let loading: Promise<void> | null = null;
  const decrypted = new Map<string, [string, string] | null>();
  const lastSeen = new Map<string, string>();
  const redactors = new Map<string, Redactor>();

  const load = async () => {
    const rows = await deps.store.listRetiredSecretValues({});
    const next: Array<[string, string]> = [];
    const live = new Set<string>();
    for (const row of rows) {
      live.add(row.id);
      let pair = decrypted.get(row.id);
      if (pair === undefined) {
        try {
          pair = [row.key, deps.vault.decrypt(row.secret_id, row.ciphertext)];
        } catch (err) {
          pair = null;
          deps.onError?.('a retired secret value cannot be decrypted; it is not redacted', {
            secret_id: row.secret_id,
            error: err instanceof Error ? err.message : String(err),
          });
        }
        decrypted.set(row.id, pair);
      }
      if (pair) next.push(pair);
    }
    for (const id of decrypted.keys()) if (!live.has(id)) decrypted.delete(id);
    const seen = [...live].join(',');
    if (seen !== signature) {
      // Redactors built on the old list are not looked up again (their cache key has the generation).
      signature = seen;
      retired = next;
      generation++;
    }
    loadedAt = deps.now();
  };

  // Bumped by invalidate(): a read under way that began before it may have missed the value just
  // retired, so a refresh asked for since then waits for it to end and reads again.
  let invalidations = 0;
  let loadingFor = 0;
  const refresh = (): Promise<void> => {
    if (loading && loadingFor !== invalidations) {
      return loading.catch(() => {}).then(refresh);
    }
    loadingFor = invalidations;
    loading ??= (async () => {
      try {
        stale = false;
        await load();
      } catch (err) {
        stale = true;
        throw err;
      } finally {
        loading = null;
      }
    })();
    return loading;
  };

  return {
    async redactorFor(current) {
      let changed = false;
      for (const [key, value] of Object.entries(current)) {
        if (lastSeen.get(key) !== value) changed = true;
        lastSeen.set(key, value);
      }
      if (stale || changed || deps.now() - loadedAt >= refreshMs) await refresh();
      else if (loading) await loading;
      const pairs: Array<[string, string]> = Object.entries(current);
      const id = `${generation}\u0000${JSON.stringify(pairs)}`;
      let redactor = redactors.get(id);
      if (redactor) {
        // Most recently used last, so the oldest goes first when the map is full.
        redactors.delete(id);
      } else {
        redactor = createRedactor([...pairs, ...retired]);
        if (redactors.size >= MAX_REDACTORS) redactors.delete(redactors.keys().next().value!);
      }
      redactors.set(id, redactor);
      return redactor;
    },
    invalidate() {
      stale = true;
      invalidations++;
    },
  };
}
