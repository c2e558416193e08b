/**
 * One alert request: the formatted message POSTed to the channel's URL through the egress guard,
 * redirects not followed, with a timeout; the outcome kept with the URL (the channel's credential)
 * redacted from it.
 */
import { type Dispatcher, fetch } from 'undici';
import { createRedactor } from '../secrets/redact.js';
import { formatAlert } from './format.js';
import type { Alert, AlertChannelType, AlertSendResult } from './schemas.js';

/** The parts of a channel the sender needs. */
export interface AlertTarget {
  id: string;
  name: string;
  type: AlertChannelType;
  url_secret_id: string;
}

export interface PostOptions {
  /** The egress guard's dispatcher. */
  dispatcher: Dispatcher;
  /** Per request, connect to last byte. */
  timeoutMs: number;
  /** Aborted when the sender stops: the request ends at once. */
  stopping: AbortSignal;
}

/**
 * Replaces the URL, and its path and query on their own, in whatever is kept or logged about a
 * failure: Slack and Teams put the token in the path.
 */
export function channelUrlRedactor(url: string): (text: string) => string {
  const secrets: Record<string, string> = { ALERT_CHANNEL_URL: url };
  try {
    const { pathname, search } = new URL(url);
    if (pathname.length + search.length > 1) secrets.ALERT_CHANNEL_URL_PATH = `${pathname}${search}`;
  } catch {
    // An invalid URL fails when it is fetched; nothing to add.
  }
  return createRedactor(secrets);
}

/** Posts `alert` to `url`; resolves with the outcome (its `at` left empty for the caller). Never throws. */
export async function postAlert(
  url: string,
  target: AlertTarget,
  alert: Alert,
  options: PostOptions,
): Promise<AlertSendResult> {
  const redact = channelUrlRedactor(url);
  // A plain controller and timer rather than AbortSignal.any(AbortSignal.timeout(...)): Node holds
  // the sources of a combined signal weakly, and a collected timeout signal never fires.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const onStop = () => controller.abort();
  options.stopping.addEventListener('abort', onStop, { once: true });
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'openpipes-alerts/1' },
      body: JSON.stringify(formatAlert(target.type, alert, { id: target.id, name: target.name })),
      dispatcher: options.dispatcher,
      redirect: 'manual',
      signal: controller.signal,
    });
    const snippet = await readSnippet(response.body, 500);
    const ok = response.status >= 200 && response.status < 300;
    const why =
      response.status >= 300 && response.status < 400 ? 'redirects are not followed' : snippet.trim();
    return {
      ok,
      status: response.status,
      error: ok ? null : redact(`HTTP ${response.status}${why ? `: ${why}` : ''}`),
      at: '',
    };
  } catch (err) {
    const why = timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : options.stopping.aborted
        ? 'aborted: the engine stopped'
        : describeFetchError(err, options.timeoutMs);
    return { ok: false, status: null, error: redact(why), at: '' };
  } finally {
    clearTimeout(timer);
    options.stopping.removeEventListener('abort', onStop);
  }
}

/** Reads at most `max` characters of a response body, then lets the rest go. */
async function readSnippet(body: ReadableStream<Uint8Array> | null, max: number): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < max) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // A body cut short (timeout, reset) still leaves the status, which is what matters.
  } finally {
    reader.cancel().catch(() => {});
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Why a fetch failed, in words an operator understands. */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  const error = err as {
    name?: string;
    message?: string;
    cause?: { code?: string; name?: string; message?: string };
  };
  if (error?.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  if (error?.name === 'AbortError') return 'aborted: the engine stopped';
  const cause = error?.cause;
  if (cause && typeof cause === 'object') {
    if (cause.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
    const code = cause.code ?? cause.name ?? 'ERROR';
    return `${code}: ${cause.message ?? error.message ?? 'request failed'}`;
  }
  return `${error?.name ?? 'Error'}: ${error?.message ?? String(err)}`;
}
