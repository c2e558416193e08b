import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { PipesError } from '../errors.js';

/**
 * Encrypts secret values at rest with AES-256-GCM. The 256-bit key is derived from the operator's
 * `secretKey` with HKDF-SHA256, so any string of reasonable entropy works as a key; the secret's id
 * is bound as additional authenticated data, so a ciphertext cannot be moved to another secret.
 *
 * Format: `v1.<iv b64url>.<tag b64url>.<ciphertext b64url>`.
 */
export interface Vault {
  encrypt(secretId: string, plaintext: string): string;
  decrypt(secretId: string, ciphertext: string): string;
}

/**
 * @example
 * ```ts
 * const vault = createVault(process.env.OPENPIPES_SECRET_KEY!);
 * const sealed = vault.encrypt('sec_01...', 'EAAB...');
 * ```
 */
export function createVault(secretKey: string): Vault {
  if (typeof secretKey !== 'string' || secretKey.length < 16) {
    throw new PipesError({
      code: 'SECRET_KEY_MISSING',
      message: 'secretKey must be a string of at least 16 characters (generate one: openssl rand -base64 32)',
    });
  }
  const key = Buffer.from(hkdfSync('sha256', secretKey, 'openpipes', 'openpipes secret values v1', 32));

  return {
    encrypt(secretId, plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(secretId));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return ['v1', iv.toString('base64url'), tag.toString('base64url'), body.toString('base64url')].join(
        '.',
      );
    },
    decrypt(secretId, sealed) {
      const [version, iv, tag, body] = sealed.split('.');
      if (version !== 'v1' || !iv || !tag || body === undefined) {
        throw new PipesError({
          code: 'SECRET_DECRYPT_FAILED',
          message: `secret ${secretId} has an unknown format`,
        });
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAAD(Buffer.from(secretId));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch (cause) {
        throw new PipesError({
          code: 'SECRET_DECRYPT_FAILED',
          message: `secret ${secretId} cannot be decrypted: is secretKey the key it was written with?`,
          cause,
        });
      }
    },
  };
}
