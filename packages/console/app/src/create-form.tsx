/**
 * A small form that creates one thing through the API (a source, an event type, a destination, a
 * pipe): labelled fields, one submit button, the API's error shown as an alert and a status line
 * on success. Every page's "New …" form is one of these, so they look and behave alike: folded
 * under a summary line (the page's data comes first), opened by a click or Enter.
 */
import { useState } from 'preact/hooks';
import { ErrorNote } from './ui';

export interface Field {
  /** The key in the values handed to `onCreate`. */
  name: string;
  label: string;
  kind?: 'text' | 'code' | 'select';
  /** The first value (a select's too). */
  initial?: string;
  options?: Array<{ value: string; label: string }>;
  required?: boolean;
  /** A hint shown under the label, tied to the field with aria-describedby. */
  hint?: string;
}

/**
 * Renders the form; `onCreate` gets the values and answers the status line to show (`Source Web
 * created.`), or throws the API's error. The fields are emptied after a success.
 */
export function CreateForm(props: {
  title: string;
  /** A prefix for element ids, unique on the page. */
  id: string;
  fields: Field[];
  submit: string;
  onCreate: (values: Record<string, string>) => Promise<string>;
}) {
  const initial = () => Object.fromEntries(props.fields.map((f) => [f.name, f.initial ?? '']));
  const [values, setValues] = useState<Record<string, string>>(initial);
  const [message, setMessage] = useState('');
  const [error, setError] = useState<Error | undefined>(undefined);
  const set = (name: string, value: string) => setValues((current) => ({ ...current, [name]: value }));
  return (
    <details class="create">
      <summary>{props.title}</summary>
      <form
        aria-label={props.title}
        onSubmit={async (event) => {
          event.preventDefault();
          setError(undefined);
          setMessage('');
          try {
            // A select whose options arrived after the first render still shows its first option.
            const sent = { ...values };
            for (const field of props.fields) {
              if (field.kind === 'select' && !sent[field.name])
                sent[field.name] = field.options?.[0]?.value ?? '';
            }
            setMessage(await props.onCreate(sent));
            setValues(initial());
          } catch (err) {
            setError(err as Error);
          }
        }}
      >
        {props.fields.map((field) => {
          const id = `${props.id}-${field.name}`;
          const hint = field.hint ? `${id}-hint` : undefined;
          const common = {
            id,
            name: field.name,
            required: field.required ?? true,
            'aria-describedby': hint,
          };
          return (
            <p key={field.name}>
              <label for={id}>{field.label}</label>
              {hint && (
                <span id={hint} class="muted">
                  {' '}
                  ({field.hint})
                </span>
              )}
              <br />
              {field.kind === 'code' ? (
                <textarea
                  {...common}
                  rows={12}
                  spellcheck={false}
                  value={values[field.name]}
                  onInput={(e) => set(field.name, (e.target as HTMLTextAreaElement).value)}
                />
              ) : field.kind === 'select' ? (
                <select
                  {...common}
                  value={values[field.name] || field.options?.[0]?.value}
                  onChange={(e) => set(field.name, (e.target as HTMLSelectElement).value)}
                >
                  {(field.options ?? []).map((o) => (
                    <option key={o.value} value={o.value}>
                      {o.label}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  {...common}
                  value={values[field.name]}
                  onInput={(e) => set(field.name, (e.target as HTMLInputElement).value)}
                />
              )}
            </p>
          );
        })}
        <p class="actions">
          <button type="submit">{props.submit}</button> <span role="status">{message}</span>
        </p>
        <ErrorNote error={error} />
      </form>
    </details>
  );
}
