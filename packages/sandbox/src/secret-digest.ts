/**
 * Keyed digests of secret values, for the sandbox's warm contexts. A context is kept under its code
 * and the digest of the secrets it was given, so a context that saw an old value is never called
 * with the new one (its module-level variables may hold the old value); retiring a value finds the
 * contexts that saw it by the value's digest. The key is random per sandbox and never leaves the
 * process, so the digests say nothing about short values (pixel ids) to anyone who sees one.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** A fresh key for one sandbox (its pool and its workers share it). */
export function newDigestKey(): string {
  return randomBytes(32).toString('base64');
}

/** The digest of one text under `key`. */
export function secretDigest(key: string, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64');
}
