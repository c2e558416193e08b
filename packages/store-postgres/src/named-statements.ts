/**
 * Named (server-side prepared) statements for the store's hot statements of a fixed text. A
 * statement written with {@link prepared} in front goes to PostgreSQL under a name made from its
 * text: the first call on a connection parses it, later ones send only its parameters, so parse
 * analysis and rewriting happen once per connection, and planning too once PostgreSQL keeps a
 * generic plan (after five custom ones, when the generic one is estimated no dearer). Every other
 * statement goes unnamed, as before.
 *
 * Only the store's own pool (made from `connectionString`) names statements: a caller's pool may be
 * anything shaped like `pg.Pool`, or sit behind a transaction-pooling proxy that cannot keep a
 * statement prepared on one server connection for the next transaction; `namedStatements: false`
 * (a store option) turns it off for the store's own pool too.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { PgPoolClient } from './driver.js';

/** What starts a statement to be named (a comment: PostgreSQL reads the text as written). */
const mark = '/*openpipes:prepared*/';

/** Written in front of a hot statement's text: `sql\`${prepared} INSERT …\``. */
export const prepared = sql.raw(mark);

/** The name per text, remembered (a few dozen texts at most; bounded all the same). */
const names = new Map<string, string>();
const maxNames = 1000;

/** The statement's name: a digest of its text, so one text has one name on every connection. */
export function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `openpipes_${createHash('sha256').update(text).digest('base64url').slice(0, 32)}`;
    if (names.size >= maxNames) names.clear();
    names.set(text, name);
  }
  return name;
}

/** A `pg` client's query method taking a config object (name, text, values). */
type ConfigQuery = (config: {
  name: string;
  text: string;
  values?: unknown[];
}) => ReturnType<PgPoolClient['query']>;

/**
 * `client` with its statements marked {@link prepared} sent named; the same client otherwise
 * (release, events).
 */
export function namingStatements(client: PgPoolClient): PgPoolClient {
  const query = client.query.bind(client);
  const named = client.query.bind(client) as unknown as ConfigQuery;
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'query')
        return (text: string, values?: unknown[]) =>
          typeof text === 'string' && text.startsWith(mark)
            ? named({ name: statementName(text), text, values })
            : query(text, values);
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
