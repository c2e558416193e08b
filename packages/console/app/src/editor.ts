/**
 * The code editor (CodeMirror 6 with JavaScript). Loaded with `import()` only when a code page
 * opens, so the first page never carries it. It lives in a shadow root: there CodeMirror styles
 * itself with constructed style sheets (`adoptedStyleSheets`) instead of a `<style>` element,
 * which the console's CSP (`style-src 'self'`, no inline style) would refuse.
 */
import { javascript } from '@codemirror/lang-javascript';
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { tags } from '@lezer/highlight';
import { basicSetup, EditorView } from 'codemirror';

/**
 * CodeMirror's default colours, with every one that falls under WCAG AA's 4.5:1 contrast on white
 * darkened (template strings and regular expressions were #e40, invalid code #f00, type names
 * #085). basicSetup's default style is only a fallback, so this one replaces it whole.
 */
const readableHighlighting = HighlightStyle.define([
  { tag: tags.link, textDecoration: 'underline' },
  { tag: tags.heading, textDecoration: 'underline', fontWeight: 'bold' },
  { tag: tags.emphasis, fontStyle: 'italic' },
  { tag: tags.strong, fontWeight: 'bold' },
  { tag: tags.strikethrough, textDecoration: 'line-through' },
  { tag: tags.keyword, color: '#708' },
  { tag: [tags.atom, tags.bool, tags.url, tags.contentSeparator, tags.labelName], color: '#219' },
  { tag: [tags.literal, tags.inserted], color: '#164' },
  { tag: [tags.string, tags.deleted], color: '#a11' },
  { tag: [tags.regexp, tags.escape, tags.special(tags.string)], color: '#a33000' },
  { tag: tags.definition(tags.variableName), color: '#00f' },
  { tag: tags.local(tags.variableName), color: '#30a' },
  { tag: [tags.typeName, tags.namespace], color: '#06603f' },
  { tag: tags.className, color: '#167' },
  { tag: [tags.special(tags.variableName), tags.macroName], color: '#256' },
  { tag: tags.definition(tags.propertyName), color: '#00c' },
  { tag: tags.comment, color: '#940' },
  { tag: tags.invalid, color: '#c00' },
]);

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
      syntaxHighlighting(readableHighlighting),
      javascript(),
      EditorView.contentAttributes.of({ 'aria-label': label }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange(update.state.doc.toString());
      }),
    ],
  });
  return { value: () => view.state.doc.toString(), destroy: () => view.destroy() };
}
