// Prelude part 1: the host bridge (the three host functions, kept in this closure and never
// reachable from user code), the private progress `state` the host's interrupt handler reads, and
// console, whose output is captured into `state.logs` up to the call's byte limit.

var g = globalThis;
var hostCall = host.call;
var hostFetch = host.fetch;
var hostModule = host.module;
var JSONparse = JSON.parse;
var JSONstringify = JSON.stringify;
// The entry function's own text (harness.source): user code may replace either later.
var functionText = Function.prototype.toString;
var reflectApply = Reflect.apply;

function call(name, args) {
  var r = hostCall(name, JSONstringify(args));
  return r === undefined ? undefined : JSONparse(r);
}

// Progress and captured output of the current call. The host reads state.i from its interrupt
// handler; user code cannot reach this object.
// Captured before user code runs: a guest that replaces Date.now cannot move its own CPU clock.
var dateNow = Date.now;
/**
 * results: one { o: output } or { e: error } per event after a per-event call, or [input index of
 * each output, outputs] after a batch call; trash: earlier calls' results, freed when idle.
 * @type {{ i: number, t: number, logs: { level: string, message: string }[], logBytes: number, logLimit: number, dropped: boolean, results: any[], trash: any[][], errors: number, severe?: boolean }}
 */
var state = {
  i: -1,
  t: dateNow(),
  logs: [],
  logBytes: 0,
  logLimit: 16384,
  dropped: false,
  results: [],
  trash: [],
  errors: 0,
};

function define(obj, name, value) {
  Object.defineProperty(obj, name, { value: value, writable: true, configurable: true, enumerable: false });
}

// ---- console --------------------------------------------------------------------------------
function fmt(v) {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return (v.name || 'Error') + ': ' + v.message;
  if (typeof v === 'function') return '[Function ' + (v.name || 'anonymous') + ']';
  if (typeof v === 'bigint') return String(v) + 'n';
  try {
    var s = JSONstringify(v);
    return s === undefined ? String(v) : s;
  } catch {
    return String(v);
  }
}
function log(level, args) {
  if (state.dropped) return;
  var msg = '';
  for (var i = 0; i < args.length; i++) msg += (i ? ' ' : '') + fmt(args[i]);
  var room = state.logLimit - state.logBytes;
  if (msg.length > room) {
    if (room > 0) state.logs.push({ level: level, message: msg.slice(0, room) });
    state.logs.push({
      level: 'warn',
      message: '[console output truncated: limit of ' + state.logLimit + ' bytes reached]',
    });
    state.logBytes = state.logLimit;
    state.dropped = true;
    return;
  }
  state.logBytes += msg.length;
  state.logs.push({ level: level, message: msg });
}
var consoleObj = {};
['log', 'info', 'warn', 'error', 'debug'].forEach(function (level) {
  define(consoleObj, level, function () {
    log(level, arguments);
  });
});
define(consoleObj, 'trace', function () {
  log('debug', arguments);
});
define(g, 'console', consoleObj);
