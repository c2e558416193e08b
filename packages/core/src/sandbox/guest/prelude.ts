/**
 * Guest-side JavaScript evaluated in every fresh QuickJS context before user code. It installs the
 * globals people expect (console, TextEncoder/TextDecoder, URL, URLSearchParams, atob/btoa,
 * structuredClone, crypto.randomUUID, openpipes.*, require) and returns the harness the host drives:
 * the per-event transform loop and the send() runner.
 *
 * It is a string because it runs inside QuickJS, not in Node. It receives `host` (three host
 * functions) and keeps it in a closure: user code never sees the raw bridge.
 *
 * Boundary design (why it looks like this): every host<->guest crossing costs ~10 us, so the whole
 * batch crosses once in each direction and the per-event loop runs inside the guest. Progress is kept
 * on a private `state` object the host's interrupt handler reads, so after an uncatchable interrupt
 * the host knows which event was running.
 */
export const PRELUDE_SOURCE = String.raw`
(function (host, kind, moduleNames) {
  'use strict';
  var g = globalThis;
  var hostCall = host.call;
  var hostFetch = host.fetch;
  var hostModule = host.module;
  var JSONparse = JSON.parse;
  var JSONstringify = JSON.stringify;

  function call(name, args) {
    var r = hostCall(name, JSONstringify(args));
    return r === undefined ? undefined : JSONparse(r);
  }

  // Progress and captured output of the current call. The host reads state.i from its interrupt
  // handler; user code cannot reach this object.
  var state = { i: -1, t: Date.now(), logs: [], logBytes: 0, logLimit: 16384, dropped: false, results: [], trash: [], errors: 0 };

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
    } catch (e) {
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
      state.logs.push({ level: 'warn', message: '[console output truncated: limit of ' + state.logLimit + ' bytes reached]' });
      state.logBytes = state.logLimit;
      state.dropped = true;
      return;
    }
    state.logBytes += msg.length;
    state.logs.push({ level: level, message: msg });
  }
  var consoleObj = {};
  ['log', 'info', 'warn', 'error', 'debug'].forEach(function (level) {
    define(consoleObj, level, function () { log(level, arguments); });
  });
  define(consoleObj, 'trace', function () { log('debug', arguments); });
  define(g, 'console', consoleObj);

  // ---- TextEncoder / TextDecoder (UTF-8) ---------------------------------------------------------
  function TextEncoder() {}
  Object.defineProperty(TextEncoder.prototype, 'encoding', { get: function () { return 'utf-8'; } });
  TextEncoder.prototype.encode = function (input) {
    var s = input === undefined ? '' : String(input);
    var out = [];
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        var d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
        else c = 0xfffd;
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8Array(out);
  };
  function TextDecoder(label) {
    var l = label === undefined ? 'utf-8' : String(label).toLowerCase();
    if (l !== 'utf-8' && l !== 'utf8') throw new RangeError('TextDecoder: only utf-8 is supported');
  }
  Object.defineProperty(TextDecoder.prototype, 'encoding', { get: function () { return 'utf-8'; } });
  TextDecoder.prototype.decode = function (input) {
    if (input === undefined) return '';
    var b = input instanceof Uint8Array ? input
      : ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
      : new Uint8Array(input);
    var s = '';
    for (var i = 0; i < b.length; ) {
      var c = b[i++], cp;
      if (c < 0x80) cp = c;
      else if (c >= 0xc2 && c < 0xe0 && i < b.length) cp = ((c & 31) << 6) | (b[i++] & 63);
      else if (c >= 0xe0 && c < 0xf0 && i + 1 < b.length) { cp = ((c & 15) << 12) | ((b[i] & 63) << 6) | (b[i + 1] & 63); i += 2; }
      else if (c >= 0xf0 && c < 0xf5 && i + 2 < b.length) { cp = ((c & 7) << 18) | ((b[i] & 63) << 12) | ((b[i + 1] & 63) << 6) | (b[i + 2] & 63); i += 3; }
      else cp = 0xfffd;
      s += String.fromCodePoint(cp);
    }
    return s;
  };
  define(g, 'TextEncoder', TextEncoder);
  define(g, 'TextDecoder', TextDecoder);

  // ---- atob / btoa -------------------------------------------------------------------------------
  var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  define(g, 'btoa', function btoa(input) {
    var s = String(input), out = '';
    for (var i = 0; i < s.length; i += 3) {
      var a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
      if (a > 255 || b > 255 || c > 255) throw new Error('btoa: the string contains characters outside of the Latin1 range');
      var n = (a << 16) | ((b || 0) << 8) | (c || 0);
      out += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < s.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < s.length ? B64[n & 63] : '=');
    }
    return out;
  });
  define(g, 'atob', function atob(input) {
    var s = String(input).replace(/[\t\n\f\r ]/g, '');
    if (s.length % 4 === 0) s = s.replace(/==?$/, '');
    if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) throw new Error('atob: invalid base64');
    var out = '', bits = 0, acc = 0;
    for (var i = 0; i < s.length; i++) {
      acc = (acc << 6) | B64.indexOf(s[i]);
      bits += 6;
      if (bits >= 8) { bits -= 8; out += String.fromCharCode((acc >> bits) & 255); }
    }
    return out;
  });

  // ---- URLSearchParams / URL ---------------------------------------------------------------------
  function formEncode(s) {
    return encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()~]/g, function (c) {
      return '%' + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }
  function formDecode(s) {
    try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch (e) { return s; }
  }
  function URLSearchParams(init) {
    define(this, '_list', []);
    define(this, '_url', null);
    if (init === undefined || init === null) return;
    if (typeof init === 'string') this._parse(init);
    else if (init instanceof URLSearchParams) this._list = init._list.map(function (p) { return [p[0], p[1]]; });
    else if (typeof init[Symbol.iterator] === 'function') {
      for (var pair of init) this._list.push([String(pair[0]), String(pair[1])]);
    } else for (var k of Object.keys(init)) this._list.push([k, String(init[k])]);
  }
  URLSearchParams.prototype._parse = function (s) {
    this._list = [];
    if (s[0] === '?') s = s.slice(1);
    var parts = s.split('&');
    for (var i = 0; i < parts.length; i++) {
      if (!parts[i]) continue;
      var eq = parts[i].indexOf('=');
      this._list.push(eq < 0 ? [formDecode(parts[i]), ''] : [formDecode(parts[i].slice(0, eq)), formDecode(parts[i].slice(eq + 1))]);
    }
  };
  URLSearchParams.prototype._update = function () {
    if (this._url) this._url.search = this.toString();
  };
  URLSearchParams.prototype.append = function (k, v) { this._list.push([String(k), String(v)]); this._update(); };
  URLSearchParams.prototype.delete = function (k) { k = String(k); this._list = this._list.filter(function (p) { return p[0] !== k; }); this._update(); };
  URLSearchParams.prototype.get = function (k) { k = String(k); for (var p of this._list) if (p[0] === k) return p[1]; return null; };
  URLSearchParams.prototype.getAll = function (k) { k = String(k); return this._list.filter(function (p) { return p[0] === k; }).map(function (p) { return p[1]; }); };
  URLSearchParams.prototype.has = function (k) { return this.get(k) !== null; };
  URLSearchParams.prototype.set = function (k, v) {
    k = String(k); v = String(v);
    var i = this._list.findIndex(function (p) { return p[0] === k; });
    if (i < 0) this._list.push([k, v]);
    else { this._list[i][1] = v; this._list = this._list.filter(function (p, j) { return j <= i || p[0] !== k; }); }
    this._update();
  };
  URLSearchParams.prototype.sort = function () { this._list.sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; }); this._update(); };
  URLSearchParams.prototype.forEach = function (cb, thisArg) { for (var p of this._list) cb.call(thisArg, p[1], p[0], this); };
  URLSearchParams.prototype.entries = function () { return this._list.map(function (p) { return [p[0], p[1]]; })[Symbol.iterator](); };
  URLSearchParams.prototype.keys = function () { return this._list.map(function (p) { return p[0]; })[Symbol.iterator](); };
  URLSearchParams.prototype.values = function () { return this._list.map(function (p) { return p[1]; })[Symbol.iterator](); };
  URLSearchParams.prototype[Symbol.iterator] = URLSearchParams.prototype.entries;
  Object.defineProperty(URLSearchParams.prototype, 'size', { get: function () { return this._list.length; } });
  URLSearchParams.prototype.toString = function () {
    return this._list.map(function (p) { return formEncode(p[0]) + '=' + formEncode(p[1]); }).join('&');
  };

  var URL_PARTS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
  function URL(input, base) {
    var parts;
    try { parts = call('urlParse', [String(input), base === undefined ? null : String(base)]); }
    catch (e) { throw new TypeError('Invalid URL: ' + String(input)); }
    define(this, '_p', parts);
    var sp = new URLSearchParams(parts.search);
    sp._url = this;
    define(this, '_sp', sp);
  }
  URL_PARTS.forEach(function (name) {
    Object.defineProperty(URL.prototype, name, {
      get: function () { return this._p[name]; },
      set: name === 'origin' ? undefined : function (v) {
        this._p = call('urlSet', [this._p.href, name, String(v)]);
        if (name !== 'search') this._sp._parse(this._p.search);
        else this._sp._parse(this._p.search);
      },
      configurable: true,
    });
  });
  Object.defineProperty(URL.prototype, 'searchParams', { get: function () { return this._sp; } });
  URL.prototype.toString = function () { return this._p.href; };
  URL.prototype.toJSON = function () { return this._p.href; };
  URL.canParse = function (input, base) { try { new URL(input, base); return true; } catch (e) { return false; } };
  define(g, 'URL', URL);
  define(g, 'URLSearchParams', URLSearchParams);

  // ---- structuredClone ---------------------------------------------------------------------------
  define(g, 'structuredClone', function structuredClone(value) {
    var seen = new Map();
    function clone(v) {
      if (v === null || typeof v !== 'object') {
        if (typeof v === 'function' || typeof v === 'symbol') throw new TypeError('structuredClone: ' + typeof v + ' could not be cloned');
        return v;
      }
      if (seen.has(v)) return seen.get(v);
      var out;
      if (Array.isArray(v)) { out = []; seen.set(v, out); for (var i = 0; i < v.length; i++) out[i] = clone(v[i]); return out; }
      if (v instanceof Date) return new Date(v.getTime());
      if (v instanceof RegExp) return new RegExp(v.source, v.flags);
      if (v instanceof Map) { out = new Map(); seen.set(v, out); v.forEach(function (val, key) { out.set(clone(key), clone(val)); }); return out; }
      if (v instanceof Set) { out = new Set(); seen.set(v, out); v.forEach(function (val) { out.add(clone(val)); }); return out; }
      if (v instanceof ArrayBuffer) return v.slice(0);
      if (ArrayBuffer.isView(v)) return new v.constructor(v);
      if (v instanceof Error) { var e = new Error(v.message); e.name = v.name; return e; }
      out = {};
      seen.set(v, out);
      for (var k of Object.keys(v)) out[k] = clone(v[k]);
      return out;
    }
    return clone(value);
  });

  // ---- crypto and openpipes helpers --------------------------------------------------------------
  var cryptoObj = {};
  define(cryptoObj, 'randomUUID', function randomUUID() { return call('randomUUID', []); });
  define(cryptoObj, 'getRandomValues', function getRandomValues(arr) {
    if (!ArrayBuffer.isView(arr)) throw new TypeError('getRandomValues: expected a typed array');
    var bytes = call('randomValues', [arr.byteLength]);
    var view = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    for (var i = 0; i < bytes.length; i++) view[i] = bytes[i];
    return arr;
  });
  define(g, 'crypto', cryptoObj);

  var openpipes = {};
  define(openpipes, 'sha256Hex', function sha256Hex(value) { return call('sha256Hex', [value]); });
  define(openpipes, 'hmacSha256Hex', function hmacSha256Hex(key, value) { return call('hmacSha256Hex', [key, value]); });
  define(openpipes, 'phoneE164', function phoneE164(raw, country) { return call('phoneE164', [raw, country === undefined ? null : country]); });
  define(openpipes, 'jwtSign', function jwtSign(payload, key, options) { return call('jwtSign', [payload, key, options || {}]); });
  define(openpipes, 'jwtVerify', function jwtVerify(token, key, options) { return call('jwtVerify', [token, key, options || {}]); });
  define(openpipes, 'jwtDecode', function jwtDecode(token) {
    var p = String(token).split('.')[1];
    if (p === undefined) throw new Error('jwtDecode: malformed token');
    var b = p.replace(/-/g, '+').replace(/_/g, '/');
    while (b.length % 4) b += '=';
    return JSONparse(new TextDecoder().decode(Uint8Array.from(g.atob(b), function (c) { return c.charCodeAt(0); })));
  });
  define(g, 'openpipes', openpipes);

  // ---- modules: vetted bundles loaded on first use, host-backed shims ----------------------------
  function nodeCryptoShim() {
    function Hash(alg, key) { this._alg = alg; this._key = key; this._parts = []; }
    Hash.prototype.update = function (data) { this._parts.push(String(data)); return this; };
    Hash.prototype.digest = function (enc) { return call('hash', [this._alg, this._parts, enc === undefined ? 'hex' : enc, this._key]); };
    return {
      createHash: function (alg) { return new Hash(alg, undefined); },
      createHmac: function (alg, key) { return new Hash(alg, String(key)); },
      randomUUID: cryptoObj.randomUUID,
      getRandomValues: cryptoObj.getRandomValues,
    };
  }
  var shims = {
    '@openpipes/crypto': function () { return { sha256Hex: openpipes.sha256Hex, hmacSha256Hex: openpipes.hmacSha256Hex }; },
    '@openpipes/jwt': function () { return { sign: openpipes.jwtSign, verify: openpipes.jwtVerify, decode: openpipes.jwtDecode }; },
    '@openpipes/phone': function () { return { toE164: openpipes.phoneE164 }; },
    crypto: nodeCryptoShim,
  };
  var cache = Object.create(null);
  function requireModule(name) {
    name = String(name);
    if (name.indexOf('node:') === 0) name = name.slice(5);
    if (cache[name]) return cache[name];
    if (shims[name]) return (cache[name] = shims[name]());
    // Throws "module not available" for anything outside the vetted set.
    var src = hostModule(name);
    var mod = { exports: {} };
    var fn = new Function('module', 'exports', src);
    fn(mod, mod.exports);
    cache[name] = mod.exports;
    return mod.exports;
  }
  define(g, '__openpipes_require', requireModule);
  define(g, 'require', function require(name) { return requireModule(name); });
  var userModule = { exports: {} };
  define(g, 'module', userModule);
  define(g, 'exports', userModule.exports);

  // ---- fetch (send() only) -----------------------------------------------------------------------
  if (kind === 'send') {
    function Headers(init) {
      define(this, '_m', new Map());
      if (!init) return;
      var list = init instanceof Headers ? Array.from(init._m.entries())
        : Array.isArray(init) ? init
        : Object.keys(init).map(function (k) { return [k, init[k]]; });
      for (var p of list) this.append(p[0], p[1]);
    }
    Headers.prototype.append = function (k, v) {
      k = String(k).toLowerCase(); v = String(v);
      this._m.set(k, this._m.has(k) ? this._m.get(k) + ', ' + v : v);
    };
    Headers.prototype.set = function (k, v) { this._m.set(String(k).toLowerCase(), String(v)); };
    Headers.prototype.get = function (k) { var v = this._m.get(String(k).toLowerCase()); return v === undefined ? null : v; };
    Headers.prototype.has = function (k) { return this._m.has(String(k).toLowerCase()); };
    Headers.prototype.delete = function (k) { this._m.delete(String(k).toLowerCase()); };
    Headers.prototype.forEach = function (cb, thisArg) { this._m.forEach(function (v, k) { cb.call(thisArg, v, k, this); }, this); };
    Headers.prototype.entries = function () { return this._m.entries(); };
    Headers.prototype.keys = function () { return this._m.keys(); };
    Headers.prototype.values = function () { return this._m.values(); };
    Headers.prototype[Symbol.iterator] = Headers.prototype.entries;
    define(g, 'Headers', Headers);

    function Response(r) {
      define(this, '_body', r.body);
      define(this, '_used', false);
      this.status = r.status;
      this.statusText = r.statusText;
      this.ok = r.status >= 200 && r.status < 300;
      this.url = r.url;
      this.redirected = !!r.redirected;
      this.headers = new Headers(r.headers);
    }
    Response.prototype._take = function () {
      if (this._used) return Promise.reject(new TypeError('Body has already been used'));
      this._used = true;
      return Promise.resolve(this._body);
    };
    Object.defineProperty(Response.prototype, 'bodyUsed', { get: function () { return this._used; } });
    Response.prototype.text = function () { return this._take(); };
    Response.prototype.json = function () { return this._take().then(function (t) { return JSONparse(t); }); };
    Response.prototype.arrayBuffer = function () { return this._take().then(function (t) { return new TextEncoder().encode(t).buffer; }); };
    Response.prototype.clone = function () {
      if (this._used) throw new TypeError('Body has already been used');
      return new Response({ body: this._body, status: this.status, statusText: this.statusText, url: this.url, redirected: this.redirected, headers: Array.from(this.headers.entries()) });
    };
    define(g, 'Response', Response);

    define(g, 'fetch', function fetch(input, init) {
      try {
        init = init || {};
        var url = typeof input === 'string' ? input : input instanceof URL ? input.href : input && input.url ? input.url : String(input);
        var headers = {};
        new Headers(init.headers).forEach(function (v, k) { headers[k] = v; });
        var body = init.body;
        if (body instanceof URLSearchParams) {
          if (!headers['content-type']) headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
          body = body.toString();
        } else if (body !== undefined && body !== null && typeof body !== 'string') {
          if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) body = new TextDecoder().decode(body);
          else body = String(body);
        }
        var redirect = init.redirect === undefined ? 'follow' : String(init.redirect);
        if (redirect !== 'follow' && redirect !== 'manual' && redirect !== 'error') {
          throw new TypeError("fetch: redirect must be 'follow', 'manual' or 'error', got '" + redirect + "'");
        }
        var req = { url: url, method: String(init.method || 'GET').toUpperCase(), headers: headers, redirect: redirect };
        if (body !== undefined && body !== null) req.body = body;
        return hostFetch(JSONstringify(req)).then(function (s) { return new Response(JSONparse(s)); });
      } catch (e) {
        return Promise.reject(e);
      }
    });
  }

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
  var batch = null; // { tainted, depth, recs: Map<proxy, { a: elements, s: input indices }>, revokes }
  var TAINT = { openpipesBatchTaint: true };
  function taint() {
    if (batch !== null) batch.tainted = true;
    throw TAINT;
  }
  var POISON_HANDLER = {
    get: taint, set: taint, has: taint, deleteProperty: taint, ownKeys: taint,
    getOwnPropertyDescriptor: taint, defineProperty: taint, getPrototypeOf: taint,
    setPrototypeOf: taint, preventExtensions: taint, isExtensible: taint,
  };
  var TRACKED = Object.create(null);
  var TRACKED_HANDLER = {
    get: function (target, key) {
      if (typeof key === 'string') {
        var m = TRACKED[key];
        if (m !== undefined) return m;
      }
      return taint();
    },
    set: taint, has: taint, deleteProperty: taint, ownKeys: taint,
    getOwnPropertyDescriptor: taint, defineProperty: taint, getPrototypeOf: taint,
    setPrototypeOf: taint, preventExtensions: taint, isExtensible: taint,
  };
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
  function callable(cb) {
    if (typeof cb !== 'function') throw new TypeError(String(cb) + ' is not a function');
  }
  // A callback written as a one-parameter arrow ('e => ...', '(e) => ...') cannot see the index
  // or array arguments, nor 'this': the engine's own filter/map can call it with whatever they
  // pass, which saves the loop below (the methods were captured before user code ran).
  var nativeFilter = Array.prototype.filter, nativeMap = Array.prototype.map;
  var fnSource = Function.prototype.toString;
  var ONE_PARAM_ARROW = /^(?:async\s*)?(?:[A-Za-z_$][\w$]*|\(\s*[A-Za-z_$][\w$]*\s*\))\s*=>/;
  function oneParamArrow(cb) {
    try { return ONE_PARAM_ARROW.test(fnSource.call(cb)); } catch (e) { return false; }
  }
  // The loops below call cb directly when there is no thisArg: for a sloppy-mode callback that is
  // the same 'this' (the global object) as cb.call(undefined, ...), and it is cheaper in QuickJS.
  TRACKED.filter = function filter(cb, thisArg) {
    var r = tracked(this), a = r.a, s = r.s, n = a.length, out = [], os = [], prev = -1, gi = 0, poison = batch.poison;
    callable(cb);
    batch.depth++;
    try {
      if (r.distinct && thisArg === undefined && oneParamArrow(cb)) {
        // The elements are distinct objects (the input batch): each kept one is found again by
        // identity, in order, to know its input.
        out = nativeFilter.call(a, cb);
        if (!Array.isArray(out)) taint();
        if (out.length === n) return track(out, s, true); // nothing filtered out
        for (var j = 0, m = out.length, at = 0; j < m; j++, at++) {
          while (at < n && a[at] !== out[j]) at++;
          if (at === n) taint();
          os.push(s[at]);
        }
        return track(out, os, true);
      }
      for (var k = 0; k < n; k++) {
        var src = s[k], v = a[k];
        if (src === prev) gi++; else { prev = src; gi = 0; }
        if (thisArg === undefined ? cb(v, gi, poison) : cb.call(thisArg, v, gi, poison)) { out.push(v); os.push(src); }
      }
    } finally {
      batch.depth--;
    }
    return track(out, os);
  };
  TRACKED.map = function map(cb, thisArg) {
    var r = tracked(this), a = r.a, s = r.s, n = a.length, out = new Array(n), prev = -1, gi = 0, poison = batch.poison;
    callable(cb);
    batch.depth++;
    try {
      if (thisArg === undefined && oneParamArrow(cb)) {
        out = nativeMap.call(a, cb);
        if (!Array.isArray(out) || out.length !== n) taint();
        return track(out, s);
      }
      for (var k = 0; k < n; k++) {
        var src = s[k];
        if (src === prev) gi++; else { prev = src; gi = 0; }
        out[k] = thisArg === undefined ? cb(a[k], gi, poison) : cb.call(thisArg, a[k], gi, poison);
      }
    } finally {
      batch.depth--;
    }
    return track(out, s);
  };
  TRACKED.flatMap = function flatMap(cb, thisArg) {
    var r = tracked(this), a = r.a, s = r.s, n = a.length, out = [], os = [], prev = -1, gi = 0, poison = batch.poison;
    callable(cb);
    batch.depth++;
    try {
      for (var k = 0; k < n; k++) {
        var src = s[k];
        if (src === prev) gi++; else { prev = src; gi = 0; }
        var v = thisArg === undefined ? cb(a[k], gi, poison) : cb.call(thisArg, a[k], gi, poison);
        if (Array.isArray(v)) {
          // Like Array.prototype.flatMap: one level, holes skipped. A tracked array read here
          // taints (its length is not readable).
          for (var j = 0, m = v.length; j < m; j++) if (j in v) { out.push(v[j]); os.push(src); }
        } else { out.push(v); os.push(src); }
      }
    } finally {
      batch.depth--;
    }
    return track(out, os);
  };
  TRACKED.forEach = function forEach(cb, thisArg) {
    var r = tracked(this), a = r.a, s = r.s, n = a.length, prev = -1, gi = 0, poison = batch.poison;
    callable(cb);
    batch.depth++;
    try {
      for (var k = 0; k < n; k++) {
        var src = s[k];
        if (src === prev) gi++; else { prev = src; gi = 0; }
        if (thisArg === undefined) cb(a[k], gi, poison); else cb.call(thisArg, a[k], gi, poison);
      }
    } finally {
      batch.depth--;
    }
    return undefined;
  };
  function sliceIndex(v, len, dflt) {
    if (v === undefined) return dflt;
    var x = Math.trunc(v);
    if (x !== x) x = 0;
    return x < 0 ? Math.max(len + x, 0) : Math.min(x, len);
  }
  // slice applies to each input's elements separately, as it would per event.
  TRACKED.slice = function slice(start, end) {
    var r = tracked(this), a = r.a, s = r.s, n = a.length, out = [], os = [];
    if ((start !== undefined && typeof start !== 'number') || (end !== undefined && typeof end !== 'number')) taint();
    for (var k = 0; k < n; ) {
      var src = s[k], g0 = k;
      while (k < n && s[k] === src) k++;
      var len = k - g0, from = sliceIndex(start, len, 0), to = sliceIndex(end, len, len);
      for (var j = from; j < to; j++) { out.push(a[g0 + j]); os.push(src); }
    }
    return track(out, os);
  };

  // One call of fn over the whole batch. Returns 'ok' (state.results = [input index of each output,
  // outputs]), or why the host must run the batch per event instead: 'taint', 'untraceable',
  // 'error'. Console output of an attempt that does not return 'ok' is discarded by the host.
  function transformBatch(fn, events, profilesJson, secretsJson) {
    var profiles = profilesJson === undefined ? undefined : JSONparse(profilesJson);
    var secrets = JSONparse(secretsJson);
    var n = events.length, s = new Array(n);
    for (var i = 0; i < n; i++) s[i] = i;
    var poison = Proxy.revocable([], POISON_HANDLER);
    var b = { tainted: false, depth: 0, recs: new Map(), revokes: [poison.revoke], poison: poison.proxy };
    batch = b;
    state.i = -3;
    state.t = Date.now();
    var r, rec, outcome;
    try {
      r = fn({ events: track(events, s, true), profiles: profiles, secrets: secrets });
      rec = b.recs.get(r);
      outcome = b.tainted ? 'taint' : rec === undefined ? 'untraceable' : 'ok';
    } catch (e) {
      outcome = b.tainted || e === TAINT ? 'taint' : 'error';
    } finally {
      batch = null;
      for (var k = 0; k < b.revokes.length; k++) b.revokes[k]();
    }
    state.i = -2;
    if (outcome === 'ok') state.results = [rec.s, rec.a];
    return outcome;
  }

  // ---- the harness the host drives ---------------------------------------------------------------
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
        else if ((e instanceof InternalError || e instanceof RangeError) && /stack overflow|call stack/i.test(e.message)) info.code = 'STACK_OVERFLOW';
      }
    } catch (x) {
      info.message = 'uncaught error';
    }
    return info;
  }
  function errorPart(e, code) {
    try { return '{"e":' + JSONstringify(errorInfo(e, code)) + '}'; }
    catch (x) { return '{"e":{"code":"OUT_OF_MEMORY","message":"InternalError: out of memory"}}'; }
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
    state.t = Date.now();
  }

  return {
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
      var f = g.__openpipes_entry;
      var me = userModule.exports;
      if (typeof f !== 'function') {
        if (typeof me === 'function') f = me;
        else if (me && typeof me[name] === 'function') f = me[name];
        else if (me && typeof me.default === 'function') f = me.default;
      }
      return typeof f === 'function' ? f : undefined;
    },
    // Runs fn once per input event, from index start, keeping one entry per event in
    // state.results: { o: output } or { e: error }. The host reads state.results afterwards (also
    // after an interrupt stopped the loop midway) with one binary copy, not JSON.
    transform: function (fn, events, profilesJson, secretsJson, start) {
      var profiles = profilesJson === undefined ? undefined : JSONparse(profilesJson);
      var secrets = JSONparse(secretsJson);
      var results = state.results;
      for (var i = start; i < events.length; i++) {
        state.i = i;
        state.t = Date.now();
        var r;
        try {
          r = fn({ events: [events[i]], profiles: profiles, secrets: secrets });
        } catch (e) {
          state.errors++;
          results.push({ e: errorInfo(e) });
          continue;
        }
        if (r && typeof r.then === 'function') {
          state.errors++;
          results.push({ e: errorInfo(new TypeError('transform returned a Promise; transform must be synchronous'), 'INVALID_OUTPUT') });
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
        if (entry.e) { parts.push('{"e":' + JSONstringify(entry.e) + '}'); continue; }
        var s;
        try {
          s = JSONstringify(entry.o === undefined ? null : entry.o);
        } catch (e) {
          var oom = e instanceof InternalError && /out of memory/i.test(e.message);
          parts.push(oom ? errorPart(e) : errorPart(new TypeError('output is not JSON-serializable: ' + e.message), 'INVALID_OUTPUT'));
          continue;
        }
        if (s.length > outputLimit) {
          parts.push(errorPart(new RangeError('output is ' + s.length + ' bytes, more than the limit of ' + outputLimit), 'OUTPUT_TOO_LARGE'));
          continue;
        }
        parts.push('{"o":' + s + '}');
      }
      return '[' + parts.join(',') + ']';
    },
    // Test hook for the start-up check of the binary format: JSON text of any value.
    json: function (v) { return JSONstringify(v); },
    parse: function (text) { return JSONparse(text); },
    logs: function () { return JSONstringify(state.logs); },
    send: function (fn, eventsJson, secretsJson, outputLimit) {
      state.i = 0;
      var events = JSONparse(eventsJson);
      var secrets = JSONparse(secretsJson);
      return Promise.resolve()
        .then(function () { return fn({ events: events, secrets: secrets }); })
        .then(function (v) {
          var s;
          try { s = JSONstringify(v === undefined ? null : v); }
          catch (e) { return '{"e":' + JSONstringify(errorInfo(new TypeError('send() result is not JSON-serializable: ' + e.message), 'INVALID_OUTPUT')) + '}'; }
          if (s === undefined) s = 'null';
          if (s.length > outputLimit) return '{"e":' + JSONstringify(errorInfo(new RangeError('send() result is ' + s.length + ' bytes, more than the limit of ' + outputLimit), 'OUTPUT_TOO_LARGE')) + '}';
          return '{"o":' + s + '}';
        }, function (e) { return errorPart(e); });
    },
  };
})
`;
