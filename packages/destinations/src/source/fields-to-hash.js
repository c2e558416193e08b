/**
 * The [object, key, normalise] triples hashInPlace takes: one for each key of `table` (key ->
 * normaliser) that an object has. Each template keeps its own table of what it hashes and how.
 */
function fieldsToHash(objects, table) {
  const fields = [];
  for (const object of objects) {
    for (const key of Object.keys(table)) {
      if (key in object) fields.push([object, key, table[key]]);
    }
  }
  return fields;
}
