// Prelude part 6: `harness`, what the prelude returns to the host: reset between calls, find the
// user's entry point, run transforms (batch or per event) and send(), and hand back results, logs
// and errors with the codes the host maps (TIMEOUT, OUT_OF_MEMORY, STACK_OVERFLOW, INVALID_OUTPUT).

// ---- the harness the host drives ---------------------------------------------------------------
var isArrayOf = Array.isArray;
var keysOf = Object.keys;
var descriptorOf = Object.getOwnPropertyDescriptor;
var SetOf = Set;
// How deep objects and arrays may nest in a send() result (as in transform output, bjson/format.ts
// maxValueDepth, and core's maxJsonDepth): deeper ones exhaust the engine's stack in JSON.stringify.
var MAX_RESULT_DEPTH = 512;
/**
 * Whether `v` nests objects or arrays deeper than MAX_RESULT_DEPTH. Iterative; follows data
 * properties only (getters and toJSON are JSON.stringify's business) and each object once.
 * @param {unknown} v
 */
function nestsTooDeep(v) {
  var seen = new SetOf();
  /** @type {unknown[]} */
  var values = [v];
  /** @type {number[]} */
  var depths = [0];
  var n = 1;
  while (n > 0) {
    n--;
    var x = values[n];
    var d = depths[n];
    if (x === null || typeof x !== 'object' || seen.has(x)) continue;
    if (d >= MAX_RESULT_DEPTH) return true;
    seen.add(x);
    var keys = isArrayOf(x) ? null : keysOf(x);
    var len = keys ? keys.length : /** @type {unknown[]} */ (x).length;
    for (var i = 0; i < len; i++) {
      var desc = descriptorOf(x, keys ? keys[i] : String(i));
      if (desc && 'value' in desc && desc.value !== null && typeof desc.value === 'object') {
        values[n] = desc.value;
        depths[n] = d + 1;
        n++;
      }
    }
  }
  return false;
}
function errorInfo(e, code) {
  var info = { code: code || 'USER_CODE_ERROR', message: '' };
  try {
    if (e instanceof Error || (e && typeof e === 'object' && 'message' in e)) {
      info.message = (e.name ? e.name + ': ' : '') + String(e.message);
      if (typeof e.stack === 'string') info.stack = e.stack.slice(0, 4000);
    } else info.message = 'uncaught ' + fmt(e);
    if (!code) {
      if (e instanceof InternalError && /^interrupted$/i.test(e.message)) info.code = 'TIMEOUT';
      else if (e instanceof InternalError && /out of memory/i.test(e.message)) info.code = 'OUT_OF_MEMORY';
      else if (
        (e instanceof InternalError || e instanceof RangeError) &&
        /stack overflow|call stack/i.test(e.message)
      )
        info.code = 'STACK_OVERFLOW';
    }
  } catch {
    info.message = 'uncaught error';
  }
  return info;
}
function errorPart(e, code) {
  try {
    return '{"e":' + JSONstringify(errorInfo(e, code)) + '}';
  } catch {
    return '{"e":{"code":"OUT_OF_MEMORY","message":"InternalError: out of memory"}}';
  }
}
function reset(logLimit) {
  state.logs = [];
  state.logBytes = 0;
  state.dropped = false;
  state.logLimit = logLimit;
  // The previous calls' results are freed by clear(), which the host runs when it is idle;
  // keep a few, not an unbounded pile.
  if (state.trash.length >= 8) state.trash = [];
  if (state.results.length) state.trash.push(state.results);
  state.results = [];
  state.errors = 0;
  state.t = dateNow();
}

var harness = {
  state: state,
  reset: reset,
  // Drops past calls' results, one call's worth at a time (freeing them is not free: the host
  // does it in small steps when idle). Returns whether more is left.
  clearSome: function () {
    if (state.trash.length) state.trash.pop();
    else state.results = [];
    return state.trash.length > 0;
  },
  entry: function (name) {
    /** @type {unknown} */
    var f = g.__openpipes_entry;
    var me = userModule.exports;
    if (typeof f !== 'function') {
      if (typeof me === 'function') f = me;
      else if (me && typeof me[name] === 'function') f = me[name];
      else if (me && typeof me.default === 'function') f = me.default;
    }
    return typeof f === 'function' ? f : undefined;
  },
  // The entry function's source text as the engine keeps it ('' for one without: a proxy, say),
  // for what the host works out it can read of its argument (entry-inputs.ts).
  source: function (fn) {
    try {
      return reflectApply(functionText, fn, []);
    } catch {
      return '';
    }
  },
  // Runs fn once per input event, from index start, keeping one entry per event in
  // state.results: { o: output } or { e: error }. The host reads state.results afterwards (also
  // after an interrupt stopped the loop midway) with one binary copy, not JSON.
  transform: function (fn, events, profiles, secretsJson, start) {
    var secrets = JSONparse(secretsJson);
    var results = state.results;
    for (var i = start; i < events.length; i++) {
      state.i = i;
      state.t = dateNow();
      var r;
      try {
        r = fn({ events: [events[i]], profiles: profiles, secrets: secrets });
      } catch (e) {
        state.errors++;
        var info = errorInfo(e);
        // Out of memory or stack overflow caught here: the host abandons the engine, never frees it.
        if (info.code !== 'USER_CODE_ERROR') state.severe = true;
        results.push({ e: info });
        continue;
      }
      if (r && typeof r.then === 'function') {
        state.errors++;
        results.push({
          e: errorInfo(
            new TypeError('transform returned a Promise; transform must be synchronous'),
            'INVALID_OUTPUT',
          ),
        });
        continue;
      }
      results.push({ o: r });
    }
    state.i = -2;
  },
  transformBatch: transformBatch,
  // The JSON fallback for outputs the binary form cannot carry (getters, toJSON, Map, ...).
  resultsJson: function (outputLimit) {
    var parts = [];
    var results = state.results;
    for (var i = 0; i < results.length; i++) {
      var entry = results[i];
      if (entry.e) {
        parts.push('{"e":' + JSONstringify(entry.e) + '}');
        continue;
      }
      var s;
      try {
        s = JSONstringify(entry.o === undefined ? null : entry.o);
      } catch (e) {
        var oom = e instanceof InternalError && /out of memory/i.test(e.message);
        parts.push(
          oom
            ? errorPart(e)
            : errorPart(
                new TypeError('output is not JSON-serializable: ' + /** @type {Error} */ (e).message),
                'INVALID_OUTPUT',
              ),
        );
        continue;
      }
      if (s.length > outputLimit) {
        parts.push(
          errorPart(
            new RangeError('output is ' + s.length + ' bytes, more than the limit of ' + outputLimit),
            'OUTPUT_TOO_LARGE',
          ),
        );
        continue;
      }
      parts.push('{"o":' + s + '}');
    }
    return '[' + parts.join(',') + ']';
  },
  // Test hook for the start-up check of the binary format: JSON text of any value.
  json: function (v) {
    return JSONstringify(v);
  },
  parse: function (text) {
    return JSONparse(text);
  },
  logs: function () {
    return JSONstringify(state.logs);
  },
  send: function (fn, events, secretsJson, outputLimit) {
    state.i = 0;
    var secrets = JSONparse(secretsJson);
    return Promise.resolve()
      .then(function () {
        return fn({ events: events, secrets: secrets });
      })
      .then(
        function (v) {
          var s;
          if (nestsTooDeep(v))
            return errorPart(
              new RangeError(
                'send() result nests objects or arrays deeper than ' + MAX_RESULT_DEPTH + ' levels',
              ),
              'INVALID_OUTPUT',
            );
          try {
            s = JSONstringify(v === undefined ? null : v);
          } catch (e) {
            return (
              '{"e":' +
              JSONstringify(
                errorInfo(
                  new TypeError(
                    'send() result is not JSON-serializable: ' + /** @type {Error} */ (e).message,
                  ),
                  'INVALID_OUTPUT',
                ),
              ) +
              '}'
            );
          }
          if (s === undefined) s = 'null';
          if (s.length > outputLimit)
            return (
              '{"e":' +
              JSONstringify(
                errorInfo(
                  new RangeError(
                    'send() result is ' + s.length + ' bytes, more than the limit of ' + outputLimit,
                  ),
                  'OUTPUT_TOO_LARGE',
                ),
              ) +
              '}'
            );
          return '{"o":' + s + '}';
        },
        function (e) {
          return errorPart(e);
        },
      );
  },
};
