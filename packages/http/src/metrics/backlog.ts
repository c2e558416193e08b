/**
 * The backlog gauge's numbers: `pipes.deliveries.backlog()` (the store's index-only count) with destination names,
 * read at most once per `cacheMs` however often and by how many scrapers, and never holding a
 * scrape up for long: a store that does not answer within 5 s leaves the last numbers in place.
 */
import type { Pipes } from '@openpipes/core';

const readTimeoutMs = 5000;

/** Destination names by id, every page of the registry. */
async function destinationNames(pipes: Pipes): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  let cursor: string | undefined;
  do {
    const page = await pipes.destinations.list({ limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const d of page.data) names.set(d.id, d.name);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return names;
}

export function createBacklogReader(pipes: Pipes, cacheMs: number) {
  // By destination name; every destination is present (0 when it has no backlog), so that a
  // "backlog growing" alert sees the series before it grows.
  let counts = new Map<string, number>();
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | null = null;

  const refresh = async () => {
    const [rows, names] = await Promise.all([pipes.deliveries.backlog(), destinationNames(pipes)]);
    const next = new Map<string, number>();
    for (const name of names.values()) next.set(name, 0);
    for (const row of rows) {
      // A destination deleted with deliveries left: its id stands in for its name.
      const name = names.get(row.destination_id) ?? row.destination_id;
      next.set(name, (next.get(name) ?? 0) + row.count);
    }
    counts = next;
  };

  return {
    /** The counts, refreshed first when older than `cacheMs`. */
    async read(): Promise<Map<string, number>> {
      if (Date.now() - readAt >= cacheMs) {
        // Failures count as a read too: a store that is down is asked again after `cacheMs`.
        readAt = Date.now();
        reading ??= refresh()
          .catch(() => {})
          .finally(() => {
            reading = null;
          });
      }
      if (reading) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          reading,
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, readTimeoutMs);
            timer.unref();
          }),
        ]);
        clearTimeout(timer);
      }
      return counts;
    },
    /** The destination names of the last read. */
    names(): Iterable<string> {
      return counts.keys();
    },
  };
}
