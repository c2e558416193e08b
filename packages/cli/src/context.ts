/**
 * What every command gets: the streams, a lazily created API client (local commands never need
 * one), and helpers to find entities by id or by name.
 */
import { type ApiClient, createClient } from './client.js';
import { CliError, exitCodes } from './errors.js';
import type { Io } from './io.js';

export interface CommandContext {
  io: Io;
  /** The admin API client, created on first use (so local commands never read OPENPIPES_URL). */
  client(): ApiClient;
  /** Sets the exit code of a command that ran but reports a failure. */
  setExitCode(code: number): void;
}

export function createContext(io: Io, setExitCode: (code: number) => void): CommandContext {
  let client: ApiClient | undefined;
  return {
    io,
    client() {
      client ??= createClient(io);
      return client;
    },
    setExitCode,
  };
}

/**
 * Resolves an id or a natural key (a pipe's name, a secret's key...) to an id: ids pass through,
 * anything else is looked up in the collection.
 *
 * @example
 * ```ts
 * const pipeId = await resolveId(ctx, 'pipes', 'purchase-to-meta'); // 'pip_01J...'
 * ```
 */
export async function resolveId(
  ctx: CommandContext,
  collection: 'pipes' | 'secrets' | 'alert-channels' | 'event-destinations' | 'sources',
  idOrName: string,
): Promise<string> {
  const prefixes: Record<typeof collection, string> = {
    pipes: 'pip_',
    secrets: 'sec_',
    'alert-channels': 'alc_',
    'event-destinations': 'dst_',
    sources: 'src_',
  };
  if (idOrName.startsWith(prefixes[collection])) return idOrName;
  const field = collection === 'secrets' ? 'key' : collection === 'sources' ? 'slug' : 'name';
  const all = await ctx.client().listAll<Record<string, unknown>>(`/api/${collection}`);
  const found = all.find((item) => item[field] === idOrName);
  if (!found) {
    const label = collection.replace(/s$/, '').replace('-', ' ');
    throw new CliError(
      `no ${label} with id or ${field} "${idOrName}"`,
      exitCodes.clientError,
      `list them with: openpipes api GET /api/${collection}`,
    );
  }
  return found.id as string;
}
