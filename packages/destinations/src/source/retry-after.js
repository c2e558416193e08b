/**
 * The platform's `Retry-After` hint in whole seconds (a number of seconds or an HTTP date), or
 * undefined when the answer has none. A send() that makes several requests returns it as
 * `retry_after_seconds`, so the hint of a throttled chunk is honoured even when a later chunk's
 * answer (which OpenPipes would otherwise read) has none.
 * @param {{ headers?: { get(name: string): string | null } }} res
 * @returns {number | undefined}
 */
function retryAfterSeconds(res) {
  const value = res.headers ? res.headers.get('retry-after') : null;
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * `finish(outcomes, testMode)` with the largest Retry-After hint of the run (undefined: none).
 * @param {Array<{ outcome: string, code?: string, message?: string }>} outcomes
 * @param {boolean} testMode
 * @param {number | undefined} waitSeconds
 */
function finishWithHint(outcomes, testMode, waitSeconds) {
  const result = finish(outcomes, testMode);
  if (waitSeconds !== undefined) result.retry_after_seconds = waitSeconds;
  return result;
}

/**
 * Records one request's verdict for every event it came from, and returns the run's longest
 * Retry-After hint: `waitSeconds`, or this answer's hint when the verdict is a retry and the hint
 * is longer.
 * @param {Array<object>} outcomes
 * @param {number[]} from
 * @param {{ outcome: string }} verdict
 * @param {{ headers?: { get(name: string): string | null } }} res
 * @param {number | undefined} waitSeconds
 * @returns {number | undefined}
 */
function settle(outcomes, from, verdict, res, waitSeconds) {
  for (const i of from) outcomes[i] = verdict;
  const hint = verdict.outcome === 'retry' ? retryAfterSeconds(res) : undefined;
  return hint === undefined ? waitSeconds : Math.max(waitSeconds || 0, hint);
}
