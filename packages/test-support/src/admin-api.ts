/**
 * The admin REST API as one call, for tests that drive OpenPipes over HTTP (`@openpipes/http`'s
 * against createHandler, `@openpipes/cli`'s against `openpipes serve`).
 */

/** One admin API request; resolves with the parsed answer, rejects on an error answer. */
export type AdminCall = <T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
) => Promise<T>;

/**
 * The admin API as an {@link AdminCall}: `target()` (read per request, so it may name a server
 * started later) gives the base URL and the bearer token.
 */
export function adminApi(target: () => { url: string; token: string }): AdminCall {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const { url, token } = target();
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}
