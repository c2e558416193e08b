/**
 * Google Ads wants 'yyyy-mm-dd hh:mm:ss+hh:mm' (no fractions, offset required). A time with its own
 * offset keeps it; anything else (ISO with Z, Unix seconds or ms) is written in UTC.
 */
function googleDateTime(value) {
  if (typeof value === 'string') {
    const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)?\s*([+-]\d{2}):?(\d{2})$/.exec(
      value.trim(),
    );
    if (m) return m[1] + ' ' + m[2] + m[3] + ':' + m[4];
  }
  const seconds = toUnixSeconds(value);
  if (seconds === undefined) return value;
  const iso = new Date(seconds * 1000).toISOString();
  return iso.slice(0, 10) + ' ' + iso.slice(11, 19) + '+00:00';
}
