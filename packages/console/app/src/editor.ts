/**
 * The code editor (CodeMirror 6 with JavaScript). Loaded with `import()` only when a code page
 * opens, so the first page never carries it. It lives in a shadow root: there CodeMirror styles
 * itself with constructed style sheets (`adoptedStyleSheets`) instead of a `<style>` element,
 * which the console's CSP (`style-src 'self'`, no inline style) would refuse.
 */
import { javascript } from '@codemirror/lang-javascript';
import { basicSetup, EditorView } from 'codemirror';

export interface CodeEditor {
  value(): string;
  destroy(): void;
}

/** Mounts an editor in `parent` holding `code`; `onChange` gets every new text. */
export function mountEditor(
  parent: HTMLElement,
  code: string,
  label: string,
  onChange: (code: string) => void,
): CodeEditor {
  const shadow = parent.shadowRoot ?? parent.attachShadow({ mode: 'open' });
  shadow.textContent = '';
  const view = new EditorView({
    doc: code,
    root: shadow,
    parent: shadow,
    extensions: [
      basicSetup,
      javascript(),
      EditorView.contentAttributes.of({ 'aria-label': label }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange(update.state.doc.toString());
      }),
    ],
  });
  return { value: () => view.state.doc.toString(), destroy: () => view.destroy() };
}
