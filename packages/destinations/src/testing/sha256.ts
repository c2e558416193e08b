/**
 * What a template sends for a hashed identifier, computed the ordinary way for tests to expect.
 */
import { createHash } from 'node:crypto';

/**
 * SHA-256 of `text` as lowercase hex, as the platforms take hashed identifiers (after the template
 * has normalised them: the test passes the normalised value).
 *
 * @example
 * ```ts
 * expect(row.user_data.em).toEqual([sha256('john_smith@gmail.com')]);
 * ```
 */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
