// Prelude part 2: the web globals people expect, written for QuickJS (which has none of them):
// TextEncoder/TextDecoder (UTF-8 only), atob/btoa, URLSearchParams and URL (parsing crosses to the
// host's WHATWG parser), structuredClone.

// ---- TextEncoder / TextDecoder (UTF-8) ---------------------------------------------------------
function TextEncoder() {}
Object.defineProperty(TextEncoder.prototype, 'encoding', {
  get: function () {
    return 'utf-8';
  },
});
TextEncoder.prototype.encode = function (input) {
  var s = input === undefined ? '' : String(input);
  var out = [];
  for (var i = 0; i < s.length; i++) {
    var c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      var d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
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
Object.defineProperty(TextDecoder.prototype, 'encoding', {
  get: function () {
    return 'utf-8';
  },
});
TextDecoder.prototype.decode = function (input) {
  if (input === undefined) return '';
  var b =
    input instanceof Uint8Array
      ? input
      : ArrayBuffer.isView(input)
        ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
        : new Uint8Array(input);
  var s = '';
  for (var i = 0; i < b.length; ) {
    var c = b[i++],
      cp;
    if (c < 0x80) cp = c;
    else if (c >= 0xc2 && c < 0xe0 && i < b.length) cp = ((c & 31) << 6) | (b[i++] & 63);
    else if (c >= 0xe0 && c < 0xf0 && i + 1 < b.length) {
      cp = ((c & 15) << 12) | ((b[i] & 63) << 6) | (b[i + 1] & 63);
      i += 2;
    } else if (c >= 0xf0 && c < 0xf5 && i + 2 < b.length) {
      cp = ((c & 7) << 18) | ((b[i] & 63) << 12) | ((b[i + 1] & 63) << 6) | (b[i + 2] & 63);
      i += 3;
    } else cp = 0xfffd;
    s += String.fromCodePoint(cp);
  }
  return s;
};
define(g, 'TextEncoder', TextEncoder);
define(g, 'TextDecoder', TextDecoder);

// ---- atob / btoa -------------------------------------------------------------------------------
var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
define(g, 'btoa', function btoa(input) {
  var s = String(input),
    out = '';
  for (var i = 0; i < s.length; i += 3) {
    var a = s.charCodeAt(i),
      b = s.charCodeAt(i + 1),
      c = s.charCodeAt(i + 2);
    if (a > 255 || b > 255 || c > 255)
      throw new Error('btoa: the string contains characters outside of the Latin1 range');
    var n = (a << 16) | ((b || 0) << 8) | (c || 0);
    out +=
      B64[n >> 18] +
      B64[(n >> 12) & 63] +
      (i + 1 < s.length ? B64[(n >> 6) & 63] : '=') +
      (i + 2 < s.length ? B64[n & 63] : '=');
  }
  return out;
});
define(g, 'atob', function atob(input) {
  var s = String(input).replace(/[\t\n\f\r ]/g, '');
  if (s.length % 4 === 0) s = s.replace(/==?$/, '');
  if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) throw new Error('atob: invalid base64');
  var out = '',
    bits = 0,
    acc = 0;
  for (var i = 0; i < s.length; i++) {
    acc = (acc << 6) | B64.indexOf(s[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((acc >> bits) & 255);
    }
  }
  return out;
});

// ---- URLSearchParams / URL ---------------------------------------------------------------------
function formEncode(s) {
  return encodeURIComponent(s)
    .replace(/%20/g, '+')
    .replace(/[!'()~]/g, function (c) {
      return '%' + c.charCodeAt(0).toString(16).toUpperCase();
    });
}
function formDecode(s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
function URLSearchParams(init) {
  define(this, '_list', []);
  define(this, '_url', null);
  if (init === undefined || init === null) return;
  if (typeof init === 'string') this._parse(init);
  else if (init instanceof URLSearchParams)
    this._list = init._list.map(function (p) {
      return [p[0], p[1]];
    });
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
    this._list.push(
      eq < 0
        ? [formDecode(parts[i]), '']
        : [formDecode(parts[i].slice(0, eq)), formDecode(parts[i].slice(eq + 1))],
    );
  }
};
URLSearchParams.prototype._update = function () {
  if (this._url) this._url.search = this.toString();
};
URLSearchParams.prototype.append = function (k, v) {
  this._list.push([String(k), String(v)]);
  this._update();
};
URLSearchParams.prototype.delete = function (k) {
  k = String(k);
  this._list = this._list.filter(function (p) {
    return p[0] !== k;
  });
  this._update();
};
URLSearchParams.prototype.get = function (k) {
  k = String(k);
  for (var p of this._list) if (p[0] === k) return p[1];
  return null;
};
URLSearchParams.prototype.getAll = function (k) {
  k = String(k);
  return this._list
    .filter(function (p) {
      return p[0] === k;
    })
    .map(function (p) {
      return p[1];
    });
};
URLSearchParams.prototype.has = function (k) {
  return this.get(k) !== null;
};
URLSearchParams.prototype.set = function (k, v) {
  k = String(k);
  v = String(v);
  var i = this._list.findIndex(function (p) {
    return p[0] === k;
  });
  if (i < 0) this._list.push([k, v]);
  else {
    this._list[i][1] = v;
    this._list = this._list.filter(function (p, j) {
      return j <= i || p[0] !== k;
    });
  }
  this._update();
};
URLSearchParams.prototype.sort = function () {
  this._list.sort(function (a, b) {
    return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
  });
  this._update();
};
URLSearchParams.prototype.forEach = function (cb, thisArg) {
  for (var p of this._list) cb.call(thisArg, p[1], p[0], this);
};
URLSearchParams.prototype.entries = function () {
  return this._list
    .map(function (p) {
      return [p[0], p[1]];
    })
    [Symbol.iterator]();
};
URLSearchParams.prototype.keys = function () {
  return this._list
    .map(function (p) {
      return p[0];
    })
    [Symbol.iterator]();
};
URLSearchParams.prototype.values = function () {
  return this._list
    .map(function (p) {
      return p[1];
    })
    [Symbol.iterator]();
};
URLSearchParams.prototype[Symbol.iterator] = URLSearchParams.prototype.entries;
Object.defineProperty(URLSearchParams.prototype, 'size', {
  get: function () {
    return this._list.length;
  },
});
URLSearchParams.prototype.toString = function () {
  return this._list
    .map(function (p) {
      return formEncode(p[0]) + '=' + formEncode(p[1]);
    })
    .join('&');
};

var URL_PARTS = [
  'href',
  'origin',
  'protocol',
  'username',
  'password',
  'host',
  'hostname',
  'port',
  'pathname',
  'search',
  'hash',
];
function URL(input, base) {
  var parts;
  try {
    parts = call('urlParse', [String(input), base === undefined ? null : String(base)]);
  } catch {
    throw new TypeError('Invalid URL: ' + String(input));
  }
  define(this, '_p', parts);
  var sp = new URLSearchParams(parts.search);
  sp._url = this;
  define(this, '_sp', sp);
}
URL_PARTS.forEach(function (name) {
  Object.defineProperty(URL.prototype, name, {
    /** @this {URL} */
    get: function () {
      return this._p[name];
    },
    set:
      name === 'origin'
        ? undefined
        : /** @this {URL} */ function (v) {
            this._p = call('urlSet', [this._p.href, name, String(v)]);
            this._sp._parse(this._p.search);
          },
    configurable: true,
  });
});
Object.defineProperty(URL.prototype, 'searchParams', {
  get: function () {
    return this._sp;
  },
});
URL.prototype.toString = function () {
  return this._p.href;
};
URL.prototype.toJSON = function () {
  return this._p.href;
};
URL.canParse = function (input, base) {
  try {
    new URL(input, base);
    return true;
  } catch {
    return false;
  }
};
define(g, 'URL', URL);
define(g, 'URLSearchParams', URLSearchParams);

// ---- structuredClone ---------------------------------------------------------------------------
define(g, 'structuredClone', function structuredClone(value) {
  var seen = new Map();
  function clone(v) {
    if (v === null || typeof v !== 'object') {
      if (typeof v === 'function' || typeof v === 'symbol')
        throw new TypeError('structuredClone: ' + typeof v + ' could not be cloned');
      return v;
    }
    if (seen.has(v)) return seen.get(v);
    var out;
    if (Array.isArray(v)) {
      out = [];
      seen.set(v, out);
      for (var i = 0; i < v.length; i++) out[i] = clone(v[i]);
      return out;
    }
    if (v instanceof Date) return new Date(v.getTime());
    if (v instanceof RegExp) return new RegExp(v.source, v.flags);
    if (v instanceof Map) {
      out = new Map();
      seen.set(v, out);
      v.forEach(function (val, key) {
        out.set(clone(key), clone(val));
      });
      return out;
    }
    if (v instanceof Set) {
      out = new Set();
      seen.set(v, out);
      v.forEach(function (val) {
        out.add(clone(val));
      });
      return out;
    }
    if (v instanceof ArrayBuffer) return v.slice(0);
    if (ArrayBuffer.isView(v)) return new /** @type {new (v: unknown) => unknown} */ (v.constructor)(v);
    if (v instanceof Error) {
      var e = new Error(v.message);
      e.name = v.name;
      return e;
    }
    out = {};
    seen.set(v, out);
    for (var k of Object.keys(v)) out[k] = clone(v[k]);
    return out;
  }
  return clone(value);
});
