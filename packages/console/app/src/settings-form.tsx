/**
 * A form generated from a template's settings JSON Schema (`GET /api/event-destination-templates`):
 * strings, numbers, booleans and enums get their own inputs; objects and arrays are edited as JSON.
 * The server validates the settings again (and says which field is wrong).
 */
import { useState } from 'preact/hooks';
import { useVersionedState } from './ui';

interface PropertySchema {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  pattern?: string;
}

export interface SettingsSchema {
  properties?: Record<string, PropertySchema>;
  required?: string[];
}

const kindOf = (p: PropertySchema): string => {
  if (p.enum) return 'enum';
  const type = Array.isArray(p.type) ? p.type.find((t) => t !== 'null') : p.type;
  return type ?? 'json';
};

/** Turns the form's text values back into settings; throws a message naming the field. */
function toSettings(schema: SettingsSchema, values: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(schema.properties ?? {})) {
    const text = values[name] ?? '';
    if (text === '') continue;
    const kind = kindOf(p);
    if (kind === 'number' || kind === 'integer') out[name] = Number(text);
    else if (kind === 'boolean') out[name] = text === 'true';
    else if (kind === 'object' || kind === 'array' || kind === 'json') {
      try {
        out[name] = JSON.parse(text);
      } catch {
        throw new Error(`${name}: not valid JSON`);
      }
    } else out[name] = text;
  }
  return out;
}

const asText = (value: unknown): string =>
  value === undefined || value === null
    ? ''
    : typeof value === 'object'
      ? JSON.stringify(value)
      : String(value);

export function SettingsForm(props: {
  schema: SettingsSchema;
  settings: Record<string, unknown>;
  readOnly: boolean;
  onSave: (settings: Record<string, unknown>) => Promise<void>;
  /** The version `settings` belong to: a new one resets the fields to its values. */
  version: number;
}) {
  const properties = Object.entries(props.schema.properties ?? {}).filter(([name]) => name !== 'name');
  const [values, setValues] = useVersionedState<Record<string, string>>(
    () => Object.fromEntries(properties.map(([name]) => [name, asText(props.settings[name])])),
    props.version,
  );
  // Kept across versions: the save that made the new one is what it reports.
  const [message, setMessage] = useState('');
  const set = (name: string, value: string) => setValues((v) => ({ ...v, [name]: value }));
  return (
    <form
      class="settings"
      onSubmit={async (event) => {
        event.preventDefault();
        try {
          await props.onSave(toSettings(props.schema, values));
          setMessage('Settings saved.');
        } catch (err) {
          setMessage(`Not saved: ${(err as Error).message}`);
        }
      }}
    >
      {properties.map(([name, p]) => {
        const id = `setting-${name}`;
        const kind = kindOf(p);
        const required = props.schema.required?.includes(name) === true;
        const hint = [p.description, p.default !== undefined ? `default ${asText(p.default)}` : '']
          .filter(Boolean)
          .join('; ');
        return (
          <p key={name}>
            <label for={id}>
              {name}
              {required ? ' (required)' : ''}
            </label>{' '}
            {kind === 'enum' || kind === 'boolean' ? (
              <select
                id={id}
                disabled={props.readOnly}
                value={values[name]}
                onChange={(e) => set(name, (e.target as HTMLSelectElement).value)}
              >
                <option value="">(default)</option>
                {(p.enum ?? [true, false]).map((option) => (
                  <option key={String(option)} value={String(option)}>
                    {String(option)}
                  </option>
                ))}
              </select>
            ) : (
              <input
                id={id}
                inputMode={kind === 'number' || kind === 'integer' ? 'decimal' : 'text'}
                readOnly={props.readOnly}
                required={required}
                value={values[name]}
                placeholder={p.default !== undefined ? asText(p.default) : ''}
                onInput={(e) => set(name, (e.target as HTMLInputElement).value)}
              />
            )}
            {hint && <span class="muted"> {hint}</span>}
          </p>
        );
      })}
      {!props.readOnly && <button type="submit">Save settings</button>} <span role="status">{message}</span>
    </form>
  );
}
