import { describe, expect, it } from 'vitest';
import type { RetiredSecretValue, Store } from '../store.js';
import { createRedactionSource } from './redaction.js';
import type { Vault } from './vault.js';

/** A vault whose ciphertext is the value itself: what is tested here is when values are read. */
const plainVault = { decrypt: (_secretId: string, ciphertext: string) => ciphertext } as unknown as Vault;

const retiredRow = (value: string): RetiredSecretValue => ({
  id: `ret_${value}`,
  secret_id: 'sec_1',
  key: 'token',
  ciphertext: value,
  retired_at: new Date(0).toISOString(),
});

describe('retired secret values read for redaction', () => {
  it('reads them again after an invalidate that came while a read was under way', async () => {
    // Each read of the retired values waits until the test answers it.
    const reads: Array<(rows: RetiredSecretValue[]) => void> = [];
    let onRead = () => {};
    const store = {
      listRetiredSecretValues: () =>
        new Promise<RetiredSecretValue[]>((resolve) => {
          reads.push(resolve);
          onRead();
        }),
    } as unknown as Store;
    const secondRead = new Promise<void>((resolve) => {
      onRead = () => {
        if (reads.length === 2) resolve();
      };
    });
    const redaction = createRedactionSource({ store, vault: plainVault, now: () => 0 });

    // A batch bound to the old value starts a read of the retired values (none yet).
    const first = redaction.redactorFor({ token: 'old-value' });
    expect(reads).toHaveLength(1);
    // Meanwhile another process rotates the secret (retiring 'old-value') and this engine is told
    // (configChanged): the read under way began before the value was retired.
    redaction.invalidate();
    const second = redaction.redactorFor({ token: 'new-value' });
    reads[0]!([]);
    await first;
    // The second redactor waits for a read that begins after the invalidate (it cannot be built
    // before that read is answered)...
    const next = await Promise.race([
      secondRead.then(() => 'read again'),
      second.then(() => 'built on the read under way'),
    ]);
    expect(next).toBe('read again');
    reads[1]!([retiredRow('old-value')]);
    // ...so the retired value is redacted from what the new value's batch produced.
    expect((await second).text('sent old-value and new-value')).not.toContain('old-value');
  });
});
