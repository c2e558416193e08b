/**
 * `fromProfile(profiles, e, kind, scheme)`: what the event's stitched profile knows
 * (`profiles[event_id]`, docs/identifiers.md) of one identifier kind, newest first: the value, or for
 * a personal kind the digest under `scheme` ('sha256', 'sha256_google', 'sha256_digits', ...).
 * `profileAttribute(profiles, e, name)`: its last 'ip' or 'user_agent'. Both give undefined when
 * there is no profile (identity off) or it lacks the kind. Defaults fill only what the event lacks.
 *
 * @param {Record<string, any> | undefined} profiles
 * @param {{ event_id?: string }} e
 * @param {string} kind
 * @param {string} [scheme]
 * @returns {string | undefined}
 */
function fromProfile(profiles, e, kind, scheme) {
  const profile = profiles && e.event_id !== undefined ? profiles[e.event_id] : undefined;
  const values = profile && profile.identifiers ? profile.identifiers[kind] : undefined;
  if (!Array.isArray(values) || values.length === 0) return undefined;
  const first = values[0];
  if (typeof first === 'string') return first;
  return scheme && first ? first[scheme] : undefined;
}

/**
 * @param {Record<string, any> | undefined} profiles
 * @param {{ event_id?: string }} e
 * @param {'ip' | 'user_agent'} name
 * @returns {string | undefined}
 */
function profileAttribute(profiles, e, name) {
  const profile = profiles && e.event_id !== undefined ? profiles[e.event_id] : undefined;
  return profile && typeof profile[name] === 'string' ? profile[name] : undefined;
}

/** The first defined of the given values (an explicit value on the event wins). */
function firstDefined(...values) {
  for (const value of values) if (value !== undefined && value !== null && value !== '') return value;
  return undefined;
}
