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
