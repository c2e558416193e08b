import { describe, expect, it } from 'vitest';
import { createVault } from './vault.js';

describe('createVault', () => {
  const vault = createVault('a-sufficiently-long-secret-key');

  it('round-trips a value and never stores it in the clear', () => {
    const plain = 'EAAB-token-7f3a9c01';
    const sealed = vault.encrypt('sec_1', plain);
    expect(sealed).toMatch(/^v1\./);
    // Neither the value nor an encoding of it (not a short prefix: random ciphertext can contain
    // any 4 characters by chance).
    for (const form of [
      plain,
      Buffer.from(plain).toString('base64').slice(0, 16),
      Buffer.from(plain).toString('hex'),
    ]) {
      expect(sealed).not.toContain(form);
    }
    expect(vault.decrypt('sec_1', sealed)).toBe(plain);
    expect(vault.encrypt('sec_1', plain)).not.toBe(sealed);
  });

  it('refuses a ciphertext moved to another secret or read with another key', () => {
    const sealed = vault.encrypt('sec_1', 'value');
    expect(() => vault.decrypt('sec_2', sealed)).toThrow(/cannot be decrypted/);
    expect(() => createVault('another-long-secret-key!!').decrypt('sec_1', sealed)).toThrow(
      /SECRET|decrypted/,
    );
  });

  it('refuses a short key', () => {
    expect(() => createVault('short')).toThrow(/at least 16 characters/);
  });
});
