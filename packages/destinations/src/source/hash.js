/** True when a value already is a SHA-256 hex digest: it passes through, never hashed twice. */
function isSha256Hex(value) {
  return typeof value === 'string' && /^[0-9a-fA-F]{64}$/.test(value);
}

/**
 * Normalises and hashes fields in place. fields: [[object, key, normalise], ...]; a value may be a
 * string, a number or an array of them. Digests pass through (lowercased); values that normalise to
 * '' are dropped. All values of the call are hashed with one host call (openpipes.sha256Hex(array)).
 */
function hashInPlace(fields) {
  const todo = [];
  const assign = [];
  for (const [obj, key, normalise] of fields) {
    const value = obj[key];
    if (value === undefined || value === null) {
      delete obj[key];
      continue;
    }
    const many = Array.isArray(value);
    const out = [];
    for (const item of many ? value : [value]) {
      if (item === undefined || item === null) continue;
      const text = String(item);
      if (isSha256Hex(text)) {
        out.push(text.toLowerCase());
        continue;
      }
      const normalised = normalise(text);
      if (!normalised) continue;
      todo.push({ out: out, at: out.length, text: normalised });
      out.push(null);
    }
    if (out.length === 0) delete obj[key];
    else assign.push({ obj: obj, key: key, many: many, out: out });
  }
  const digests = todo.length > 0 ? openpipes.sha256Hex(todo.map((t) => t.text)) : [];
  todo.forEach((t, i) => {
    t.out[t.at] = digests[i];
  });
  for (const a of assign) a.obj[a.key] = a.many ? a.out : a.out[0];
}
