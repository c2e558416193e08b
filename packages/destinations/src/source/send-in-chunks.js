/**
 * The request loop of a batching send(): sends `rows` in requests of at most `size` rows, one after
 * the other, and folds the verdicts into the result. `sendChunk(chunk)` makes one request and says
 * how it went: `{ res, verdict }`, one verdict for every event of the request (a retry keeps the
 * answer's Retry-After hint), or `{ verdicts }`, one verdict an event in the chunk's order.
 * `from[n]` is the index in `outcomes` of the event `rows[n]` came from (`acceptedRows`). Uses
 * `chunks`, `settleEach` (send-plumbing), `settle` and `finishWithHint` (retry-after).
 *
 * @param {Array<Record<string, any>>} rows
 * @param {number[]} from
 * @param {Array<object>} outcomes
 * @param {{ size: number, testMode: boolean }} options
 * @param {(chunk: Array<Record<string, any>>) => Promise<{ res: { headers?: { get(name: string): string | null } }, verdict: { outcome: string } } | { verdicts: Array<object> }>} sendChunk
 */
async function sendInChunks(rows, from, outcomes, options, sendChunk) {
  const rowChunks = chunks(rows, options.size);
  const fromChunks = chunks(from, options.size);
  let wait;
  for (let c = 0; c < rowChunks.length; c++) {
    const answer = await sendChunk(rowChunks[c]);
    if ('verdicts' in answer) settleEach(outcomes, fromChunks[c], answer.verdicts);
    else wait = settle(outcomes, fromChunks[c], answer.verdict, answer.res, wait);
  }
  return finishWithHint(outcomes, options.testMode, wait);
}
