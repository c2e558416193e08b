/** The response body as JSON, or null when it is empty or not JSON (a proxy's HTML error page). */
async function readJson(res) {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch (e) {
    return null;
  }
}

/** Splits a list into runs of at most size items. */
function chunks(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * Folds one outcome per event ({ outcome: 'delivered' | 'failed' | 'retry', code?, message? }) into
 * the structured result OpenPipes records: one shared outcome when all agree, else 'partial'.
 */
function finish(outcomes, testMode) {
  const first = outcomes[0] || { outcome: 'delivered' };
  const same = outcomes.every(
    (o) => o.outcome === first.outcome && o.code === first.code && o.message === first.message,
  );
  const result = same ? Object.assign({}, first) : { outcome: 'partial', events: outcomes };
  result.test_mode = testMode;
  return result;
}

/**
 * A request that failed with this HTTP status, for every event of it: retried when it may pass
 * later (a server error, 429 throttling, 408 timeout), failed otherwise.
 * @param {number} status
 * @param {string} code
 * @param {string} message
 */
function httpFailure(status, code, message) {
  const retry = status >= 500 || status === 429 || status === 408;
  return { outcome: retry ? 'retry' : 'failed', code: code, message: message };
}

/**
 * The rows a send() puts in its requests, each with the index of the event it came from (`from`).
 * `toRow(payload)` makes an event's row from a copy of its payload; `refusal(row)` says why the
 * platform would refuse it ({ code, message }), or null. A refused event is failed here, alone, and
 * its batch-mates are sent without it; its outcome says `sent: false`, so OpenPipes, which finds it
 * in no request, still matches records to events.
 * @param {Array<{ event_payload: Record<string, any> }>} events
 * @param {Array<object>} outcomes
 * @param {(payload: Record<string, any>) => Record<string, any>} toRow
 * @param {(row: Record<string, any>) => { code: string, message: string } | null} refusal
 */
function acceptedRows(events, outcomes, toRow, refusal) {
  const rows = [];
  const from = [];
  events.forEach((e, i) => {
    const row = toRow(Object.assign({}, e.event_payload));
    const why = refusal(row);
    if (why) outcomes[i] = { outcome: 'failed', code: why.code, message: why.message, sent: false };
    else {
      rows.push(row);
      from.push(i);
    }
  });
  return { rows: rows, from: from };
}

/**
 * Records one outcome per event of a request, in request order, for the events it came from.
 * @param {Array<object>} outcomes
 * @param {number[]} from
 * @param {Array<object>} verdicts
 */
function settleEach(outcomes, from, verdicts) {
  from.forEach((i, n) => {
    outcomes[i] = verdicts[n];
  });
}

/**
 * The refusal of an event older than the platform keeps: the time field, its value (Unix ms) as
 * ISO 8601, and `why` after "is more than " ("7 days ago; Meta refuses such an event, ...").
 * @param {string} field
 * @param {number} timeMs
 * @param {string} why
 */
function tooOld(field, timeMs, why) {
  return {
    code: 'EVENT_TOO_OLD',
    message: field + ' ' + new Date(timeMs).toISOString() + ' is more than ' + why,
  };
}
