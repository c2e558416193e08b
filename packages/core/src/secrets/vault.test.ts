import { describe, expect, it } from 'vitest';
import { createVault } from './vault.js';

describe('createVault', () => {
  const vault = createVault('a-sufficiently-long-secret-key');

  it('round-trips a value and never stores it in the clear', () => {
    const sealed = vault.encrypt('sec_1', 'EAAB-token');
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain('EAAB');
    expect(vault.decrypt('sec_1', sealed)).toBe('EAAB-token');
    expect(vault.encrypt('sec_1', 'EAAB-token')).not.toBe(sealed);
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
