/**
 * The console's only way to the server: the documented REST API, with the operator's key (kept
 * in sessionStorage, sent as a bearer header; no cookies, so no CSRF).
 */

const tokenKey = 'openpipes.console.token';

/** The console's root URL path (`<mount>/console/`), from index.html's `<base href>`. */
export const consoleRoot = new URL(document.baseURI).pathname;

/** The API's root: the console is served at `<mount>/console/`, the API at `<mount>/api/`. */
export const mountRoot = consoleRoot.replace(/console\/$/, '');

export function storedToken(): string | null {
  return sessionStorage.getItem(tokenKey);
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(tokenKey);
  else sessionStorage.setItem(tokenKey, token);
}

/** An error answer of the API, in its `{"error": {code, message}}` format. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Who the key belongs to and what it may do (`GET /api/session`). */
export interface Session {
  actor: string;
  /** `privacy`: everything `write` may, plus profiles and erasure (docs/security.md). */
  scope: 'read' | 'write' | 'privacy';
}

/** A page of a list: `{data, next_cursor}`. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/**
 * Calls the API: `path` is relative to the mount (`api/pipes`), `query` values that are empty are
 * left out, `body` is sent as JSON.
 */
export async function api<T>(
  path: string,
  options: {
    method?: string;
    body?: unknown;
    query?: Record<string, string | undefined>;
    token?: string;
  } = {},
): Promise<T> {
  const url = new URL(`${mountRoot}${path}`, location.origin);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value) url.searchParams.set(name, value);
  }
  const token = options.token ?? storedToken();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: 'omit',
    cache: 'no-store',
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? 'HTTP_ERROR',
      error?.message ?? `HTTP ${response.status}`,
    );
  }
  return parsed as T;
}

export interface Source {
  id: string;
  name: string;
  slug: string;
  enabled: boolean;
  auth: { type: 'none' | 'bearer' | 'hmac'; secret_id?: string };
  allowed_origins: string[];
  dedup_window_seconds: number;
}

/** An accepted event (`GET /api/sources/{id}/events`). */
export interface StoredEvent {
  id: string;
  event_id: string;
  event_type: string;
  event_time: string;
  event_payload: Record<string, unknown>;
  received_at: string;
}

/** An event refused at collect (`GET /api/sources/{id}/rejections`). */
export interface Rejection {
  id: string;
  received_at: string;
  error: { code: string; message: string; issues: Array<{ path: string; message: string }> };
  /** The event as sent (JSON text, or the body's text), cut when `truncated`. */
  event: string;
  truncated: boolean;
}

export interface Destination {
  id: string;
  name: string;
  enabled: boolean;
}

/** `GET /api/pipes/:id/match-quality`. */
export interface MatchQuality {
  pipe_id: string;
  window: '1h' | '24h' | '7d';
  since: string;
  until: string;
  measured: boolean;
  delivered: number;
  identifiers: Array<{
    identifier: string;
    raw: number;
    stitched: number;
    raw_share: number | null;
    stitched_share: number | null;
  }>;
}

export interface Pipe {
  id: string;
  name: string;
  source_id: string;
  destination_id: string;
  transform: string | null;
  enabled: boolean;
  version: number;
}

export interface DeliveryError {
  code: string;
  message: string;
  retryable: boolean;
  stage: string;
  line?: number;
  column?: number;
}

export interface Attempt {
  number: number;
  status: string;
  started_at: string;
  duration_ms: number;
  pipe_version: number | null;
  destination_version: number | null;
  error: DeliveryError | null;
  response: { status: number } | null;
}

export interface Delivery {
  id: string;
  pipe_id: string;
  pipe_version: number | null;
  destination_id: string;
  destination_version: number | null;
  destination: string;
  source_id: string;
  event_id: string;
  event_type: string;
  status: string;
  /** Why a `filtered` delivery was not sent: `consent`, the transform's reason, or `transform`. */
  filter_reason?: string | null;
  output: unknown[] | null;
  request: unknown;
  response: unknown;
  error: DeliveryError | null;
  attempt_count: number;
  attempts?: Attempt[];
  created_at: string;
  delivered_at: string | null;
}

export interface StatsRow {
  destination_id: string;
  pipe_id: string;
  status: string;
  count: number;
  oldest_created_at: string | null;
}

export const deliveryStatuses = ['pending', 'sending', 'delivered', 'filtered', 'retrying', 'failed', 'dead'];
