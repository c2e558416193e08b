/** Copies obj without undefined, null or '' fields. */
function compact(obj) {
  const out = {};
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (value !== undefined && value !== null && value !== '') out[key] = value;
  }
  return out;
}
