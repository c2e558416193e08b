/** Small pieces every page uses: loading data, polling, JSON, status badges, errors. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { Session } from './api';

/** The session (actor and scope) of the signed-in key; pages hide write controls for `read`. */
export let session: Session = { actor: '', scope: 'read' };
export function setSession(value: Session): void {
  session = value;
}
export const canWrite = () => session.scope === 'write' || session.scope === 'privacy';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  reload: () => void;
}

/**
 * Loads `load()` when `key` changes, and again every `pollMs` when given (new records appear
 * without a reload). A slow answer never overwrites a newer one.
 */
export function useLoad<T>(load: () => Promise<T>, key: string, pollMs?: number): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(() => {
    const mine = ++generation.current;
    loadRef.current().then(
      (value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(undefined);
      },
      (err: unknown) => {
        if (mine === generation.current) setError(err as Error);
      },
    );
  }, []);
  useEffect(() => {
    setData(undefined);
    reload();
    if (!pollMs) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, pollMs);
    return () => clearInterval(timer);
  }, [key, pollMs, reload]);
  return { data, error, reload };
}

export function ErrorNote(props: { error: Error | undefined }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert">
      {props.error.message}
    </p>
  );
}

/**
 * A list as a table: a header cell for each of `columns` (a `false` one is left out, for a column
 * only some sessions see) and `row(item)`, a `<tr>` with its own key, for each of `items`; the
 * sentence `empty` instead when there are none, and nothing until they are loaded.
 *
 * @example
 * <ListTable caption="Secrets" columns={['Key', write && 'Rotate']} items={list.data?.data}
 *   empty="No secrets yet." row={(s) => <tr key={s.id}>…</tr>} />
 */
export function ListTable<T>(props: {
  caption: string;
  columns: Array<string | false>;
  items: readonly T[] | undefined;
  empty: string;
  row: (item: T) => ComponentChildren;
}) {
  if (!props.items) return null;
  if (props.items.length === 0) return <p>{props.empty}</p>;
  return (
    <table>
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          {props.columns.map(
            (name) =>
              name && (
                <th scope="col" key={name}>
                  {name}
                </th>
              ),
          )}
        </tr>
      </thead>
      <tbody>{props.items.map(props.row)}</tbody>
    </table>
  );
}

export function StatusBadge(props: { status: string }) {
  return <span class={`badge status-${props.status}`}>{props.status}</span>;
}

export function Enabled(props: { enabled: boolean }) {
  return (
    <span class={`badge ${props.enabled ? 'on' : 'off'}`}>{props.enabled ? 'enabled' : 'disabled'}</span>
  );
}

/** A JSON value, pretty-printed (as text: nothing in it is interpreted as markup). */
export function Json(props: { value: unknown; label: string }) {
  if (props.value === null || props.value === undefined) return <p class="muted">none</p>;
  return (
    // A scrollable region must be reachable by keyboard to be scrolled without a mouse.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region, focusable so keys scroll it
    <section class="json" aria-label={props.label} tabIndex={0}>
      <pre>{JSON.stringify(props.value, null, 2)}</pre>
    </section>
  );
}

export function Section(props: { title: string; children: ComponentChildren }) {
  return (
    <section>
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

/**
 * A labelled text input on a line of its own, as the create forms write it: the label names the
 * input (`for`/`id`), and `onValue` gets the text after each keystroke. A `secret` field is a
 * password field the browser does not offer to fill or remember (a value is typed, never shown).
 *
 * @example
 * <TextField id="secret-value" label="Value" secret required value={value} onValue={setValue} />
 */
export function TextField(props: {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  secret?: boolean;
  required?: boolean;
}) {
  const input = {
    id: props.id,
    required: props.required,
    value: props.value,
    onInput: (e: Event) => props.onValue((e.target as HTMLInputElement).value),
  };
  return (
    <p>
      <label for={props.id}>{props.label}</label>{' '}
      {props.secret ? <input {...input} type="password" autocomplete="off" /> : <input {...input} />}
    </p>
  );
}

/** A time in the operator's locale, with the exact ISO time on hover. */
export function Time(props: { iso: string | null }) {
  if (!props.iso) return <span class="muted">—</span>;
  return (
    <time dateTime={props.iso} title={props.iso}>
      {new Date(props.iso).toLocaleString()}
    </time>
  );
}

/**
 * Form state that starts from `initial()` and starts over from it whenever `version` changes: a
 * section that edits a versioned entity stays mounted across saves (its status line with it) and
 * shows the new version's values once they arrive. The reset happens in the render that brings the
 * new version, not in an effect after it: no frame shows the new version beside the old values.
 */
export function useVersionedState<T>(
  initial: () => T,
  version: unknown,
): [T, (next: T | ((previous: T) => T)) => void] {
  const box = useRef<{ version: unknown; value: T } | undefined>(undefined);
  if (box.current === undefined || box.current.version !== version) {
    box.current = { version, value: initial() };
  }
  const [, rerender] = useState(0);
  const set = useCallback((next: T | ((previous: T) => T)) => {
    const current = box.current!;
    current.value = typeof next === 'function' ? (next as (previous: T) => T)(current.value) : next;
    rerender((n) => n + 1);
  }, []);
  return [box.current.value, set];
}
