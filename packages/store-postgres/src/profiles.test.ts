/**
 * Two stores on one schema (as two processes would be: separate pools, separate connections) link
 * the same identifiers at once and end in one profile.
 */

import { newId } from '@openpipes/core';
import { DEFAULT_CAPS, type ProfileLink } from '@openpipes/core/identity';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresStore } from './index.js';
import { dropSchemas, postgresAvailable, postgresUrl, testSchema } from './testing.js';

const available = await postgresAvailable();
const schema = testSchema('profiles');

describe.skipIf(!available)('profiles on PostgreSQL: two stores at once', () => {
  afterAll(async () => {
    await dropSchemas([schema]);
  });

  it('links racing from two pools merge into one profile', async () => {
    const a = postgresStore({
      connectionString: postgresUrl,
      schema,
      poolSize: 4,
      applicationName: 'openpipes-a',
    });
    const b = postgresStore({
      connectionString: postgresUrl,
      schema,
      poolSize: 4,
      applicationName: 'openpipes-b',
    });
    await Promise.all([a.migrate(), b.migrate()]);
    const at = new Date().toISOString();
    const link = (anon: string): ProfileLink => ({
      identifiers: [
        { kind: 'anonymous_id', key: anon, value: JSON.stringify(anon), first_seen_at: at },
        { kind: 'user_id', key: 'racing-user', value: '"racing-user"', first_seen_at: at },
      ],
      seen_at: at,
    });
    const call = (store: typeof a, i: number) =>
      store.linkProfiles({
        links: [link(`anon-${i}`)],
        caps: DEFAULT_CAPS,
        newId: () => newId('profile'),
        now: at,
      });
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => call(i % 2 ? a : b, i)));
    const ids = new Set(results.map(([id]) => id));
    expect(ids.size).toBe(1);
    const found = await a.findProfiles({ identifiers: [{ kind: 'user_id', key: 'racing-user' }] });
    expect(found).toHaveLength(1);
    expect(found[0]!.identifiers).toHaveLength(17);
    await Promise.all([a.close(), b.close()]);
  });
});
