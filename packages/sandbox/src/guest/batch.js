// Prelude part 5: the batch fast path of transforms, one call over the whole batch with every
// output traced back to its input (the long comment below says how, and when it gives up).

// ---- batch fast path: one call over the whole batch, outputs traced to their inputs ------------
// The per-event contract is 'transform({ events: [event] })' once per input. Calling the user's
// function once per event costs about as much as all the other guest work, so the harness first
// tries ONE call with the whole batch, where 'events' is a tracked array: a revocable Proxy whose
// only readable properties are filter/map/flatMap/forEach/slice, implemented here so that every
// element they produce carries the index of the input it came from. When the call returns an
// array produced by that chain, each output's input is known and the batch is done. Anything the
// tracking cannot vouch for "taints" the attempt and the host reruns the batch per event (in a
// fresh context): reading 'events[0]', '.length', iterating, any other method or property, using
// a tracked array inside another tracked callback, touching the callbacks' third argument, or
// returning anything that is not a tracked array (a plain array, one object, null, []).
// Callbacks see what they would see per event: the element, its index among the elements of the
// same input (0 unless a flatMap fanned one input out), and an untouchable stand-in for the array.
/**
 * The batch call in progress: recs maps each tracked proxy to its elements (a) and the input index
 * of each (s); revokes are called when the call ends.
 * null between calls. The tracked methods only run inside one (tracked() taints otherwise), so
 * the type says what they see.
 * @type {{ tainted: boolean, depth: number, recs: Map<unknown, { a: unknown[], s: number[], distinct: boolean }>, revokes: (() => void)[], poison: unknown }}
 */
var batch = /** @type {never} */ (null);
var TAINT = { openpipesBatchTaint: true };
/** @returns {never} */
function taint() {
  if (batch !== null) batch.tainted = true;
  throw TAINT;
}
var POISON_HANDLER = {
  get: taint,
  set: taint,
  has: taint,
  deleteProperty: taint,
  ownKeys: taint,
  getOwnPropertyDescriptor: taint,
  defineProperty: taint,
  getPrototypeOf: taint,
  setPrototypeOf: taint,
  preventExtensions: taint,
  isExtensible: taint,
};
var TRACKED = Object.create(null);
// A tracked array answers only its own methods; every other trap taints, as on the stand-in.
var TRACKED_HANDLER = Object.assign({}, POISON_HANDLER, {
  get: function (_target, key) {
    if (typeof key === 'string') {
      var m = TRACKED[key];
      if (m !== undefined) return m;
    }
    return taint();
  },
});
function track(a, s, distinct) {
  var p = Proxy.revocable(a, TRACKED_HANDLER);
  batch.revokes.push(p.revoke);
  batch.recs.set(p.proxy, { a: a, s: s, distinct: distinct === true });
  return p.proxy;
}
function tracked(self) {
  var b = batch;
  if (b === null || b.depth !== 0) taint();
  var r = b.recs.get(self);
  if (r === undefined) taint();
  return r;
}
// How filter/map/flatMap/forEach start: the record of the tracked array they were called on
// (tracked() taints otherwise, before cb is looked at), then a TypeError for a cb that is not a
// function, as the native methods throw.
function trackedWith(self, cb) {
  var r = tracked(self);
  if (typeof cb !== 'function') throw new TypeError(String(cb) + ' is not a function');
  return r;
}
// A callback written as a one-parameter arrow ('e => ...', '(e) => ...') cannot see the index
// or array arguments, nor 'this': the engine's own filter/map can call it with whatever they
// pass, which saves the loop below (the methods were captured before user code ran).
var nativeFilter = Array.prototype.filter,
  nativeMap = Array.prototype.map;
var fnSource = Function.prototype.toString;
var ONE_PARAM_ARROW = /^(?:async\s*)?(?:[A-Za-z_$][\w$]*|\(\s*[A-Za-z_$][\w$]*\s*\))\s*=>/;
function oneParamArrow(cb) {
  try {
    return ONE_PARAM_ARROW.test(fnSource.call(cb));
  } catch {
    return false;
  }
}
// Each element's index among the elements of the same input: the index its callback would get per
// event (0 unless a flatMap fanned one input out). Worked out before the loop, so the loops below
// keep calling cb directly.
/** @param {number[]} s @returns {number[]} */
function indexInInput(s) {
  var n = s.length,
    g = new Array(n),
    prev = -1,
    gi = 0;
  for (var k = 0; k < n; k++) {
    if (s[k] === prev) gi++;
    else {
      prev = s[k];
      gi = 0;
    }
    g[k] = gi;
  }
  return g;
}
// Runs the user's callbacks with batch.depth raised, so that a tracked array used inside one
// taints (tracked() refuses it), and lowered again however they end.
/** @template T @param {() => T} loop @returns {T} */
function inCallbacks(loop) {
  batch.depth++;
  try {
    return loop();
  } finally {
    batch.depth--;
  }
}
// The loops below call cb directly when there is no thisArg: for a sloppy-mode callback that is
// the same 'this' (the global object) as cb.call(undefined, ...), and it is cheaper in QuickJS.
TRACKED.filter = function filter(cb, thisArg) {
  var r = trackedWith(this, cb),
    a = r.a,
    s = r.s,
    n = a.length,
    poison = batch.poison;
  if (r.distinct && thisArg === undefined && oneParamArrow(cb)) {
    // The elements are distinct objects (the input batch): each kept one is found again by
    // identity, in order, to know its input.
    var kept = inCallbacks(function () {
      return nativeFilter.call(a, cb);
    });
    if (!Array.isArray(kept)) taint();
    if (kept.length === n) return track(kept, s, true); // nothing filtered out
    var ks = [];
    for (var j = 0, m = kept.length, at = 0; j < m; j++, at++) {
      while (at < n && a[at] !== kept[j]) at++;
      if (at === n) taint();
      ks.push(s[at]);
    }
    return track(kept, ks, true);
  }
  var g = indexInInput(s),
    out = [],
    os = [];
  inCallbacks(function () {
    for (var k = 0; k < n; k++) {
      var v = a[k];
      if (thisArg === undefined ? cb(v, g[k], poison) : cb.call(thisArg, v, g[k], poison)) {
        out.push(v);
        os.push(s[k]);
      }
    }
  });
  return track(out, os);
};
TRACKED.map = function map(cb, thisArg) {
  var r = trackedWith(this, cb),
    a = r.a,
    s = r.s,
    n = a.length,
    poison = batch.poison;
  if (thisArg === undefined && oneParamArrow(cb)) {
    var mapped = inCallbacks(function () {
      return nativeMap.call(a, cb);
    });
    if (!Array.isArray(mapped) || mapped.length !== n) taint();
    return track(mapped, s);
  }
  var g = indexInInput(s),
    out = new Array(n);
  inCallbacks(function () {
    for (var k = 0; k < n; k++)
      out[k] = thisArg === undefined ? cb(a[k], g[k], poison) : cb.call(thisArg, a[k], g[k], poison);
  });
  return track(out, s);
};
TRACKED.flatMap = function flatMap(cb, thisArg) {
  var r = trackedWith(this, cb),
    a = r.a,
    s = r.s,
    n = a.length,
    poison = batch.poison;
  var g = indexInInput(s),
    out = [],
    os = [];
  inCallbacks(function () {
    for (var k = 0; k < n; k++) {
      var src = s[k],
        v = thisArg === undefined ? cb(a[k], g[k], poison) : cb.call(thisArg, a[k], g[k], poison);
      if (Array.isArray(v)) {
        // Like Array.prototype.flatMap: one level, holes skipped. A tracked array read here
        // taints (its length is not readable).
        for (var j = 0, m = v.length; j < m; j++)
          if (j in v) {
            out.push(v[j]);
            os.push(src);
          }
      } else {
        out.push(v);
        os.push(src);
      }
    }
  });
  return track(out, os);
};
TRACKED.forEach = function forEach(cb, thisArg) {
  var r = trackedWith(this, cb),
    a = r.a,
    n = a.length,
    poison = batch.poison;
  var g = indexInInput(r.s);
  inCallbacks(function () {
    for (var k = 0; k < n; k++) {
      if (thisArg === undefined) cb(a[k], g[k], poison);
      else cb.call(thisArg, a[k], g[k], poison);
    }
  });
  return undefined;
};
function sliceIndex(v, len, dflt) {
  if (v === undefined) return dflt;
  var x = Math.trunc(v);
  if (Number.isNaN(x)) x = 0;
  return x < 0 ? Math.max(len + x, 0) : Math.min(x, len);
}
// slice applies to each input's elements separately, as it would per event.
TRACKED.slice = function slice(start, end) {
  var r = tracked(this),
    a = r.a,
    s = r.s,
    n = a.length,
    out = [],
    os = [];
  if ((start !== undefined && typeof start !== 'number') || (end !== undefined && typeof end !== 'number'))
    taint();
  for (var k = 0; k < n; ) {
    var src = s[k],
      g0 = k;
    while (k < n && s[k] === src) k++;
    var len = k - g0,
      from = sliceIndex(start, len, 0),
      to = sliceIndex(end, len, len);
    for (var j = from; j < to; j++) {
      out.push(a[g0 + j]);
      os.push(src);
    }
  }
  return track(out, os);
};

// One call of fn over the whole batch. Returns 'ok' (state.results = [input index of each output,
// outputs]), or why the host must run the batch per event instead: 'taint', 'untraceable',
// 'error'. Console output of an attempt that does not return 'ok' is discarded by the host.
function transformBatch(fn, events, profiles, secretsJson) {
  var secrets = JSONparse(secretsJson);
  var n = events.length,
    s = new Array(n);
  for (var i = 0; i < n; i++) s[i] = i;
  var poison = Proxy.revocable([], POISON_HANDLER);
  var b = { tainted: false, depth: 0, recs: new Map(), revokes: [poison.revoke], poison: poison.proxy };
  batch = b;
  state.i = -3;
  state.t = dateNow();
  var r, rec, outcome;
  try {
    r = fn({ events: track(events, s, true), profiles: profiles, secrets: secrets });
    rec = b.recs.get(r);
    outcome = b.tainted ? 'taint' : rec === undefined ? 'untraceable' : 'ok';
  } catch (e) {
    outcome = b.tainted || e === TAINT ? 'taint' : 'error';
  } finally {
    batch = /** @type {never} */ (null);
    for (var k = 0; k < b.revokes.length; k++) b.revokes[k]();
  }
  state.i = -2;
  if (outcome === 'ok') state.results = [rec.s, rec.a];
  return outcome;
}
