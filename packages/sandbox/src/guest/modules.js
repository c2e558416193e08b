// Prelude part 3: crypto.randomUUID/getRandomValues and the openpipes.* helpers (host-backed:
// hashing, HMAC, E.164, JWT), and require(): host-backed shims for @openpipes/* and node:crypto,
// vetted bundles loaded from the host on first use, and the CommonJS `module`/`exports` of user code.

// ---- crypto and openpipes helpers --------------------------------------------------------------
var cryptoObj = {};
define(cryptoObj, 'randomUUID', function randomUUID() {
  return call('randomUUID', []);
});
define(cryptoObj, 'getRandomValues', function getRandomValues(arr) {
  if (!ArrayBuffer.isView(arr)) throw new TypeError('getRandomValues: expected a typed array');
  var bytes = call('randomValues', [arr.byteLength]);
  var view = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  for (var i = 0; i < bytes.length; i++) view[i] = bytes[i];
  return arr;
});
define(g, 'crypto', cryptoObj);

/**
 * A key or data for the host's HMAC and hash: bytes (a typed array, DataView or ArrayBuffer) cross
 * as { base64 } so they arrive as the same bytes; anything else as its string, as before.
 */
function bytesOrString(value) {
  if (value instanceof ArrayBuffer) value = new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    var u = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    var s = '';
    for (var i = 0; i < u.length; i += 0x2000) {
      s += String.fromCharCode.apply(
        null,
        /** @type {number[]} */ (/** @type {unknown} */ (u.subarray(i, i + 0x2000))),
      );
    }
    return { base64: g.btoa(s) };
  }
  return String(value);
}

var openpipes = {};
define(openpipes, 'sha256Hex', function sha256Hex(value) {
  return call('sha256Hex', [value]);
});
define(openpipes, 'hmacSha256Hex', function hmacSha256Hex(key, value) {
  return call('hmacSha256Hex', [
    bytesOrString(key),
    Array.isArray(value) ? value.map(bytesOrString) : bytesOrString(value),
  ]);
});
define(openpipes, 'phoneE164', function phoneE164(raw, country) {
  return call('phoneE164', [raw, country === undefined ? null : country]);
});
define(openpipes, 'jwtSign', function jwtSign(payload, key, options) {
  return call('jwtSign', [payload, key, options || {}]);
});
define(openpipes, 'jwtVerify', function jwtVerify(token, key, options) {
  return call('jwtVerify', [token, key, options || {}]);
});
define(openpipes, 'jwtDecode', function jwtDecode(token) {
  var p = String(token).split('.')[1];
  if (p === undefined) throw new Error('jwtDecode: malformed token');
  var b = p.replace(/-/g, '+').replace(/_/g, '/');
  while (b.length % 4) b += '=';
  return JSONparse(
    new TextDecoder().decode(
      Uint8Array.from(g.atob(b), function (c) {
        return c.charCodeAt(0);
      }),
    ),
  );
});
define(g, 'openpipes', openpipes);

// ---- modules: vetted bundles loaded on first use, host-backed shims ----------------------------
function nodeCryptoShim() {
  function Hash(alg, key) {
    this._alg = alg;
    this._key = key;
    this._parts = [];
  }
  Hash.prototype.update = function (data) {
    this._parts.push(bytesOrString(data));
    return this;
  };
  Hash.prototype.digest = function (enc) {
    return call('hash', [this._alg, this._parts, enc === undefined ? 'hex' : enc, this._key]);
  };
  return {
    createHash: function (alg) {
      return new Hash(alg, undefined);
    },
    createHmac: function (alg, key) {
      return new Hash(alg, bytesOrString(key));
    },
    randomUUID: cryptoObj.randomUUID,
    getRandomValues: cryptoObj.getRandomValues,
  };
}
var shims = {
  '@openpipes/crypto': function () {
    return { sha256Hex: openpipes.sha256Hex, hmacSha256Hex: openpipes.hmacSha256Hex };
  },
  '@openpipes/jwt': function () {
    return { sign: openpipes.jwtSign, verify: openpipes.jwtVerify, decode: openpipes.jwtDecode };
  },
  '@openpipes/phone': function () {
    return { toE164: openpipes.phoneE164 };
  },
  crypto: nodeCryptoShim,
};
var cache = Object.create(null);
function requireModule(name) {
  name = String(name);
  if (name.indexOf('node:') === 0) name = name.slice(5);
  if (cache[name]) return cache[name];
  if (shims[name]) {
    cache[name] = shims[name]();
    return cache[name];
  }
  // Throws "module not available" for anything outside the vetted set.
  var src = hostModule(name);
  var mod = { exports: {} };
  var fn = new Function('module', 'exports', src);
  fn(mod, mod.exports);
  cache[name] = mod.exports;
  return mod.exports;
}
define(g, '__openpipes_require', requireModule);
define(g, 'require', function require(name) {
  return requireModule(name);
});
var userModule = { exports: {} };
define(g, 'module', userModule);
define(g, 'exports', userModule.exports);
