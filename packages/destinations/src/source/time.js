/** ISO 8601 text, Unix seconds or Unix milliseconds -> whole Unix seconds (undefined when unreadable). */
function toUnixSeconds(value) {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return Math.floor(value > 1e11 ? value / 1000 : value);
  }
  if (typeof value === 'string' && value.trim() !== '') {
    if (/^\d+(\.\d+)?$/.test(value.trim())) return toUnixSeconds(Number(value));
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
  }
  return undefined;
}
