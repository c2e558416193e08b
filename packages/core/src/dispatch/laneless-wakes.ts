/**
 * What the dispatcher does with a wake for a destination that has no lane here (`lanelessWakes`).
 */
import { type ConfigCache, type ConfigSnapshot, defaultConfigMaxStalenessMs } from '../config.js';

/**
 * Wakes for destinations that have no lane here. One disabled in the configuration (as fresh as the
 * cache's staleness allowance) has none on purpose: its deliveries wait for it to be enabled, and
 * an enabled pipe to it wakes it on every ingest, which must not cost a configuration re-read each
 * time. One enabled has its lane about to start: sync the lanes now, on the configuration that
 * showed it enabled (dropping it, as `configChanged()` does, cost a re-read at every wake until the
 * lane had started, and showed nothing more). One the configuration does not know was made moments
 * ago by another process (a PostgreSQL NOTIFY from it) whose write this one has not read yet, or
 * deleted while another process's configuration (within its own allowance) still has a pipe to it:
 * read again now, once; a deleted one then stays known as gone, so a writer that goes on naming it
 * costs no re-read per ingest.
 */
export function lanelessWakes({
  config,
  configChanged,
  startLanes,
  isRunning,
}: {
  config: ConfigCache;
  /** The dispatcher's `configChanged()`: drops the cached configuration and syncs the lanes. */
  configChanged: () => void;
  /** Syncs the lanes on the cached configuration: starts one for each enabled destination without. */
  startLanes: () => void;
  isRunning: () => boolean;
}) {
  // A configuration it could not read tells nothing: read it again, as before.
  const read = () => config.current().catch(() => null);

  // Unknown destinations being read again, and those a read begun after a wake for them did not
  // show: deleted, as the wake was sent after they were made (no re-read would show them again).
  // Kept for one revision only: the same revision is the same configuration.
  const reading = new Set<string>();
  let gone = { revision: -1, ids: new Set<string>() };
  const readAgainFor = async (destinationIds: string[]) => {
    for (const id of destinationIds) reading.add(id);
    configChanged();
    // Begun after the cache was dropped just now, so after the wake: it shows any destination made
    // before it was sent.
    const fresh = await read();
    for (const id of destinationIds) reading.delete(id);
    if (!fresh) return;
    if (gone.revision !== fresh.revision) gone = { revision: fresh.revision, ids: new Set() };
    for (const id of destinationIds) if (!fresh.destinations.has(id)) gone.ids.add(id);
  };

  /** Starts what `current` calls for; returns the destinations it shows disabled. */
  const act = (current: ConfigSnapshot, destinationIds: string[]) => {
    const disabled: string[] = [];
    const unknown: string[] = [];
    let enabled = false;
    for (const id of destinationIds) {
      const destination = current.destinations.get(id);
      if (destination) {
        if (destination.enabled) enabled = true;
        else disabled.push(id);
      } else if (!reading.has(id) && !(gone.revision === current.revision && gone.ids.has(id))) {
        unknown.push(id);
      }
    }
    if (unknown.length > 0) void readAgainFor(unknown);
    else if (enabled) startLanes();
    return disabled;
  };

  // Woken while the configuration showed them disabled: looked at once more when the snapshot that
  // said so may be stale. One enabled by another process just before its event was ingested would
  // otherwise wait for the poll tick (an hour, where only wake-ups are meant to deliver); this
  // costs at most one re-read per allowance, not one per ingest.
  const woken = new Set<string>();
  let recheck: NodeJS.Timeout | null = null;
  const recheckWoken = async () => {
    recheck = null;
    const ids = [...woken];
    woken.clear();
    if (!isRunning()) return;
    const current = await read();
    if (!current) return configChanged();
    act(current, ids);
  };
  return {
    async wake(destinationIds: string[]) {
      const current = await read();
      if (!current) return configChanged();
      const disabled = act(current, destinationIds);
      for (const id of disabled) woken.add(id);
      if (disabled.length > 0 && !recheck && isRunning()) {
        // A millisecond past it: a timer may fire a fraction early by the wall clock.
        recheck = setTimeout(() => void recheckWoken(), defaultConfigMaxStalenessMs + 1);
        recheck.unref();
      }
    },
    stop() {
      if (recheck) clearTimeout(recheck);
      recheck = null;
      woken.clear();
    },
  };
}
