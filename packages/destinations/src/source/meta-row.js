/**
 * An event's row for send() as the Meta-style Conversions APIs (Meta, Snapchat, Pinterest) take it:
 * `event_time` in Unix seconds, `action_source` defaulted from `SETTINGS.action_source`, and its own
 * copy of `user_data` (send() hashes into it). Uses `toUnixSeconds` (time.js).
 * @param {Record<string, any>} row a copy of the event's payload
 */
function metaStyleRow(row) {
  row.event_time = toUnixSeconds(row.event_time);
  if (!row.action_source) row.action_source = SETTINGS.action_source;
  if (row.user_data) row.user_data = Object.assign({}, row.user_data);
  return row;
}
