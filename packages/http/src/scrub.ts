/** Keeps sensitive request values (a secret being written) out of error answers and log lines. */

/**
 * Replaces every occurrence of a sensitive value (4 characters or more) with `[redacted]`.
 *
 * @example
 * ```ts
 * scrub('bad token s3cr3t', ['s3cr3t']); // 'bad token [redacted]'
 * ```
 */
export function scrub(text: string, sensitive: string[]): string {
  let out = text;
  for (const value of sensitive) {
    if (value.length < 4) continue;
    out = out.split(value).join('[redacted]');
    // In JSON the value may appear escaped.
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) out = out.split(escaped).join('[redacted]');
  }
  return out;
}
