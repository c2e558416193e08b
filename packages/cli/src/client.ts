/**
 * The admin API client every remote command uses: `OPENPIPES_URL` and `OPENPIPES_TOKEN` from the
 * environment, JSON in and out, and failures turned into {@link CliError}s whose exit code says what
 * kind of failure it was and whose hint says what to do.
 */
import { httpStatusForCode, isPipesError, type PipesErrorCode } from '@openpipes/core';
import { CliError, exitCodes, usage } from './errors.js';
import { errorText, type Io } from './io.js';

/** Where `openpipes serve` listens unless told otherwise. */
export const defaultUrl = 'http://127.0.0.1:8787';

export interface ApiAnswer<T = unknown> {
  status: number;
  /** The parsed JSON body; undefined for an empty one (204). */
  body: T;
}

export interface RequestOptions {
  body?: unknown;
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
}

/** A progress line of a streamed answer (`Accept: application/x-ndjson`). */
export interface StreamProgress {
  phase: string;
  done: number;
  total: number;
  kind?: string;
  name?: string;
}

export interface ApiClient {
  readonly url: string;
  /** Sends a request; resolves for 2xx, throws a {@link CliError} otherwise. */
  request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<ApiAnswer<T>>;
  /** Like `request`, asking for progress lines, which go to `onProgress`; resolves with the result. */
  stream<T = unknown>(
    method: string,
    path: string,
    options: RequestOptions & { onProgress: (progress: StreamProgress) => void },
  ): Promise<T>;
  /** Reads every page of a list (`?cursor=`). */
  listAll<T = unknown>(path: string, query?: RequestOptions['query']): Promise<T[]>;
}

/**
 * A client for the server at `OPENPIPES_URL` (default `http://127.0.0.1:8787`) with the bearer
 * token `OPENPIPES_TOKEN`.
 *
 * @example
 * ```ts
 * const client = createClient(processIo());
 * const { body } = await client.request('GET', '/api/pipes');
 * ```
 */
export function createClient(io: Io): ApiClient {
  const raw = io.env.OPENPIPES_URL?.trim() || defaultUrl;
  let base: URL;
  try {
    base = new URL(raw);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw usage(
      `OPENPIPES_URL is not an http(s) URL: ${raw}`,
      `set it to where \`openpipes serve\` listens, e.g. export OPENPIPES_URL=${defaultUrl}`,
    );
  }
  const url = raw.replace(/\/+$/, '');
  const token = io.env.OPENPIPES_TOKEN?.trim() || undefined;

  const target = (path: string, query?: RequestOptions['query']) => {
    const full = new URL(`${url}${path.startsWith('/') ? path : `/${path}`}`);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) full.searchParams.set(key, String(value));
    }
    return full;
  };

  const send = async (method: string, path: string, options: RequestOptions, accept: string) => {
    const headers: Record<string, string> = { accept };
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    try {
      return await fetch(target(path, options.query), { method: method.toUpperCase(), headers, body });
    } catch (err) {
      throw unreachable(url, err);
    }
  };

  const readBody = async (response: Response): Promise<unknown> => {
    const text = await response.text();
    if (text.length === 0) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  };

  const client: ApiClient = {
    url,
    async request<T>(method: string, path: string, options: RequestOptions = {}) {
      const response = await send(method, path, options, 'application/json');
      const body = await readBody(response);
      if (!response.ok) throw httpError(response.status, body, { url, token, method, path });
      return { status: response.status, body: body as T };
    },

    async stream<T>(
      method: string,
      path: string,
      options: RequestOptions & { onProgress: (p: StreamProgress) => void },
    ) {
      const response = await send(method, path, options, 'application/x-ndjson');
      const type = response.headers.get('content-type') ?? '';
      if (!response.ok || !type.startsWith('application/x-ndjson') || !response.body) {
        const body = await readBody(response);
        if (!response.ok) throw httpError(response.status, body, { url, token, method, path });
        return body as T; // a server that does not stream: the whole answer at once
      }
      let buffer = '';
      let result: { value: T } | null = null;
      const decoder = new TextDecoder();
      const handle = (line: string) => {
        if (!line.trim()) return;
        const parsed = JSON.parse(line) as {
          progress?: StreamProgress;
          result?: T;
          error?: { code: PipesErrorCode; message: string; details?: unknown };
        };
        if (parsed.progress) options.onProgress(parsed.progress);
        if ('result' in parsed) result = { value: parsed.result as T };
        if (parsed.error) {
          throw httpError(httpStatusForCode(parsed.error.code), parsed, { url, token, method, path });
        }
      };
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline = buffer.indexOf('\n');
        while (newline >= 0) {
          handle(buffer.slice(0, newline));
          buffer = buffer.slice(newline + 1);
          newline = buffer.indexOf('\n');
        }
      }
      handle(buffer);
      if (!result) {
        throw new CliError(
          `the server closed the answer to ${method} ${path} before it was complete`,
          exitCodes.serverError,
          'look at the server log; the operation may or may not have finished',
        );
      }
      return (result as { value: T }).value;
    },

    async listAll<T>(path: string, query: RequestOptions['query'] = {}) {
      const out: T[] = [];
      let cursor: string | undefined;
      for (;;) {
        const { body } = await client.request<{ data: T[]; next_cursor: string | null }>('GET', path, {
          query: { ...query, limit: 1000, cursor },
        });
        out.push(...body.data);
        if (!body.next_cursor) return out;
        cursor = body.next_cursor;
      }
    },
  };
  return client;
}

/** The server could not be reached. */
function unreachable(url: string, err: unknown): CliError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err as Error).message;
  return new CliError(
    `cannot reach OpenPipes at ${url} (${why})`,
    exitCodes.unreachable,
    `is \`openpipes serve\` running there? Start it, or point OPENPIPES_URL at the server (export OPENPIPES_URL=${defaultUrl})`,
  );
}

/** A non-2xx answer as a CliError: the server's code and message, and what to do about it. */
function httpError(
  status: number,
  body: unknown,
  request: { url: string; token: string | undefined; method: string; path: string },
): CliError {
  const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)
    ?.error;
  const code = error?.code ?? `HTTP ${status}`;
  const issues = ((error?.details as { issues?: Array<{ path: string; message: string }> })?.issues ?? [])
    .slice(0, 10)
    .map((i) => `\n  - ${i.path}: ${i.message}`)
    .join('');
  const message = `${request.method.toUpperCase()} ${request.path} failed with ${status} ${code}: ${
    error?.message ?? (typeof body === 'string' ? body.slice(0, 200) : 'no details')
  }${issues}`;
  let hint: string | undefined;
  if (status === 401) {
    hint = request.token
      ? 'the server does not accept OPENPIPES_TOKEN: set it to the admin token `openpipes serve` printed ' +
        '(export OPENPIPES_TOKEN="$(cat ./openpipes.db.admin-token)") or to a key from `openpipes keys create`'
      : 'OPENPIPES_TOKEN is not set: export OPENPIPES_TOKEN="$(cat ./openpipes.db.admin-token)" ' +
        '(the file `openpipes serve` wrote beside its database), or a key from `openpipes keys create`';
  } else if (status === 403 && code === 'FORBIDDEN') {
    hint = /privacy scope/.test(error?.message ?? '')
      ? 'profiles and erasure need a key with the privacy scope (openpipes keys create --name <name> --scope privacy)'
      : 'use a key with the write scope (openpipes keys create --name <name> --scope write)';
  } else if (status === 404 && code === 'NOT_FOUND' && /no route/.test(error?.message ?? '')) {
    hint = 'check the path (the admin API is under /api; see /openapi.json)';
  } else if (status >= 500) {
    hint = `the server log has the details${request.url ? ` (server: ${request.url})` : ''}`;
  }
  return new CliError(message, status >= 500 ? exitCodes.serverError : exitCodes.clientError, hint, body);
}

/** Turns anything thrown into a CliError (engine errors in local commands included). */
export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (isPipesError(err)) {
    return new CliError(errorText(err), exitCodes.failure);
  }
  return new CliError(err instanceof Error ? err.message : String(err), exitCodes.failure);
}
