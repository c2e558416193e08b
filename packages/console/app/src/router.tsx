/** A small history router: every page has its own URL under the console root. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { consoleRoot } from './api';

/** The path inside the console, without its root: `/`, `/pipes/pip_1`. */
export function currentPath(): string {
  const path = location.pathname.startsWith(consoleRoot)
    ? location.pathname.slice(consoleRoot.length - 1)
    : '/';
  return path === '' ? '/' : path;
}

const listeners = new Set<() => void>();

/** Goes to a console path (`/pipes/pip_1`) without reloading. */
export function navigate(path: string): void {
  history.pushState(null, '', `${consoleRoot}${path.replace(/^\//, '')}`);
  for (const listener of listeners) listener();
}

/**
 * The current console path with its query (`/audit?actor=ops`); re-renders on navigation (a new
 * query too) and on back/forward.
 */
export function usePath(): string {
  const [path, setPath] = useState(() => currentPath() + location.search);
  useEffect(() => {
    const update = () => setPath(currentPath() + location.search);
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return path;
}

/** A link to a console path: a real `<a href>` (open in a new tab works), navigated in place on a plain click. */
export function Link(props: { to: string; children: ComponentChildren; class?: string }) {
  return (
    <a
      href={`${consoleRoot}${props.to.replace(/^\//, '')}`}
      class={props.class}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}
