// Prelude part 4, send() contexts only: fetch with Headers and Response. The request crosses to
// the host, which applies the egress rules (docs/sandbox.md); transforms have no network.

// ---- Headers, Response, fetch ---------------------------------------------------------------------
function Headers(init) {
  define(this, '_m', new Map());
  if (!init) return;
  var list =
    init instanceof Headers
      ? Array.from(init._m.entries())
      : Array.isArray(init)
        ? init
        : Object.keys(init).map(function (k) {
            return [k, init[k]];
          });
  for (var p of list) this.append(p[0], p[1]);
}
Headers.prototype.append = function (k, v) {
  k = String(k).toLowerCase();
  v = String(v);
  this._m.set(k, this._m.has(k) ? this._m.get(k) + ', ' + v : v);
};
Headers.prototype.set = function (k, v) {
  this._m.set(String(k).toLowerCase(), String(v));
};
Headers.prototype.get = function (k) {
  var v = this._m.get(String(k).toLowerCase());
  return v === undefined ? null : v;
};
Headers.prototype.has = function (k) {
  return this._m.has(String(k).toLowerCase());
};
Headers.prototype.delete = function (k) {
  this._m.delete(String(k).toLowerCase());
};
Headers.prototype.forEach = function (cb, thisArg) {
  this._m.forEach(function (v, k) {
    cb.call(thisArg, v, k, this);
  }, this);
};
Headers.prototype.entries = function () {
  return this._m.entries();
};
Headers.prototype.keys = function () {
  return this._m.keys();
};
Headers.prototype.values = function () {
  return this._m.values();
};
Headers.prototype[Symbol.iterator] = Headers.prototype.entries;

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
Object.defineProperty(Response.prototype, 'bodyUsed', {
  get: function () {
    return this._used;
  },
});
Response.prototype.text = function () {
  return this._take();
};
Response.prototype.json = function () {
  return this._take().then(function (t) {
    return JSONparse(t);
  });
};
Response.prototype.arrayBuffer = function () {
  return this._take().then(function (t) {
    return new TextEncoder().encode(t).buffer;
  });
};
Response.prototype.clone = function () {
  if (this._used) throw new TypeError('Body has already been used');
  return new Response({
    body: this._body,
    status: this.status,
    statusText: this.statusText,
    url: this.url,
    redirected: this.redirected,
    headers: Array.from(this.headers.entries()),
  });
};

// Only send() contexts get them; transforms have no network.
if (kind === 'send') {
  define(g, 'Headers', Headers);
  define(g, 'Response', Response);
  define(g, 'fetch', function fetch(input, init) {
    try {
      init = init || {};
      var url =
        typeof input === 'string'
          ? input
          : input instanceof URL
            ? input.href
            : input?.url
              ? input.url
              : String(input);
      var headers = {};
      new Headers(init.headers).forEach(function (v, k) {
        headers[k] = v;
      });
      var body = init.body;
      if (body instanceof URLSearchParams) {
        if (!headers['content-type'])
          headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
        body = body.toString();
      } else if (body !== undefined && body !== null && typeof body !== 'string') {
        if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) body = new TextDecoder().decode(body);
        else body = String(body);
      }
      var redirect = init.redirect === undefined ? 'follow' : String(init.redirect);
      if (redirect !== 'follow' && redirect !== 'manual' && redirect !== 'error') {
        throw new TypeError("fetch: redirect must be 'follow', 'manual' or 'error', got '" + redirect + "'");
      }
      var req = {
        url: url,
        method: String(init.method || 'GET').toUpperCase(),
        headers: headers,
        redirect: redirect,
      };
      if (body !== undefined && body !== null) req.body = body;
      return hostFetch(JSONstringify(req)).then(function (s) {
        return new Response(JSONparse(s));
      });
    } catch (e) {
      return Promise.reject(e);
    }
  });
}
