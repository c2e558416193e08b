/**
 * User code for the secrets suite: a transform and a `send()` that leak every bound secret in every
 * form the sandbox's own libraries produce (JSON, `encodeURIComponent` and its RFC 3986 form, once
 * and twice, `encodeURI`,
 * `URLSearchParams`, the URL parser, `btoa`, hex), into console lines, URLs, headers, bodies, error
 * messages and outputs — and place a secret exactly at a cut when asked.
 */

/** Functions shared by the transform and `send()`: the forms of a value, computed in the guest. */
const guestForms = `
function utf8(s) { return Array.from(new TextEncoder().encode(s)); }
function base64(s) { return btoa(utf8(s).map(function (b) { return String.fromCharCode(b); }).join('')); }
function base64url(s) { return base64(s).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, ''); }
function hex(s) { return utf8(s).map(function (b) { return (b < 16 ? '0' : '') + b.toString(16); }).join(''); }
function forms(v) {
  const path = new URL('https://x.example/');
  path.pathname = '/p/' + v;
  const query = new URL('https://x.example/q');
  query.searchParams.set('t', v);
  return {
    raw: v,
    json: JSON.stringify(v).slice(1, -1),
    json_text: JSON.stringify({ v: v, nested: JSON.stringify({ v: v }) }),
    component: encodeURIComponent(v),
    // RFC 3986 as OAuth 1.0a writes it (! ' ( ) * encoded too), and encoded twice (a signature base string).
    rfc3986: encodeURIComponent(v).replace(/[!'()*]/g, function (c) { return '%' + c.charCodeAt(0).toString(16).toUpperCase(); }),
    component_twice: encodeURIComponent(encodeURIComponent(v)),
    uri: encodeURI(v),
    form: new URLSearchParams({ t: v }).toString().slice(2),
    path_setter: path.href,
    path_parsed: new URL('https://x.example/p/' + v).href,
    query: query.href,
    base64: base64(v),
    base64url: base64url(v),
    basic0: 'Basic ' + base64('user:' + v),
    basic1: base64('u:' + v + ':x'),
    basic2: base64('us:' + v + ':xy'),
    hex: hex(v),
    hex_upper: hex(v).toUpperCase(),
  };
}
function secretValue(secrets, name) {
  const v = secrets[name];
  if (typeof v !== 'string') throw new Error('no secret ' + name);
  return v;
}
`;

/** The transform: passes events through, leaking in the ways a transform can when asked. */
export const leakTransform = `${guestForms}
function transform({ events, secrets }) {
  return events.map(function (e) {
    const p = e.event_payload;
    if (p.mode === 'transform') {
      for (const name of Object.keys(secrets)) console.log('transform ' + name + ' ' + JSON.stringify(forms(secrets[name])));
      return { event_type: e.event_type, event_time: e.event_time,
        event_payload: Object.assign({}, p, { leaked: forms(secrets.TOKEN), pixel: Number(secrets.PIXEL_ID) }) };
    }
    if (p.mode === 'transform_throw') throw new Error('transform failed with ' + secrets.API_KEY + ' ' + base64('user:' + secrets.TOKEN));
    return e;
  });
}`;

/** `send()`: one event per call (max_batch_size 1); what it leaks depends on `event_payload.mode`. */
export function leakSend(base: string): string {
  return `${guestForms}
async function send({ events, secrets }) {
  const p = events[0].event_payload;
  const names = ['TOKEN', 'UNICODE_SECRET', 'API_KEY', 'PIXEL_ID'];
  // Padding before and after a value cut inside it: '~', which no number, time or encoding in a
  // record contains, so a cut piece found in one ('~' and a value's first characters) is a leak and
  // not the digits of a measured duration (a '.' padding made '.9988' match 12.99881 ms).
  const pad = function (n) { return '~'.repeat(Math.max(0, n)); };
  if (p.mode === 'encodings' || p.mode === 'transform') {
    for (const name of names) {
      const f = forms(secretValue(secrets, name));
      for (const kind of Object.keys(f)) console.log(name + ' as ' + kind + ': ' + f[kind]);
    }
    const url = new URL(${JSON.stringify(base)});
    url.pathname = '/v1/' + secrets.PIXEL_ID + '/' + secrets.TOKEN + '/events';
    url.searchParams.set('access_token', secrets.TOKEN);
    url.searchParams.set('u', secrets.UNICODE_SECRET);
    const res = await fetch(url.href + '&k=' + encodeURIComponent(secrets.API_KEY), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer ' + secrets.TOKEN,
        'proxy-authorization': 'Basic ' + base64('user:' + secrets.API_KEY),
        'x-upstream': 'bearer ' + secrets.API_KEY,
        'x-api-key': secrets.API_KEY,
        'x-trace': 'pixel=' + secrets.PIXEL_ID + ';hex=' + hex(secrets.TOKEN) + ';b64=' + base64url(secrets.UNICODE_SECRET),
      },
      body: JSON.stringify({ data: events.map(function (e) { return e.event_payload; }),
        forms: names.map(function (n) { return forms(secrets[n]); }), access_token: secrets.TOKEN }),
    });
    console.log('answer ' + (await res.text()));
    return;
  }
  if (p.mode === 'throw') {
    throw new Error('cannot send with ' + secrets.TOKEN + ' / ' + JSON.stringify(forms(secrets.UNICODE_SECRET)));
  }
  if (p.mode === 'console_cut') {
    // The secret's form starts p.inside characters before the 4 KiB the record keeps.
    const form = forms(secretValue(secrets, p.secret))[p.form];
    console.log(pad(4096 - p.inside) + form + pad(200));
    return;
  }
  if (p.mode === 'body_cut') {
    // A text body (and its echo) longer than 64 KiB, the secret p.inside characters before the cut.
    const body = pad(65536 - p.inside) + secretValue(secrets, p.secret) + pad(300);
    await fetch(${JSON.stringify(base)} + '/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: body });
    return;
  }
  if (p.mode === 'json_body_cut') {
    // A JSON body longer than 64 KiB whose text is cut inside the secret's JSON form.
    const body = JSON.stringify({ pad: pad(65517 - p.inside), token: secretValue(secrets, p.secret), more: pad(300) });
    await fetch(${JSON.stringify(base)} + '/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: body });
    return;
  }
  if (p.mode === 'error_cut') {
    // The platform answers 400 quoting the request; the error message keeps its first 500 characters.
    const body = pad(500 - p.inside) + secretValue(secrets, p.secret) + pad(100);
    await fetch(${JSON.stringify(base)} + '/reject', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: body });
    return;
  }
  throw new Error('unknown mode ' + p.mode);
}`;
}
