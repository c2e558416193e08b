/**
 * Event types: what each source may send, with the JSON Schema an event's payload must match
 * (a mismatch is refused at collect and shown on the source's page).
 */
import { api, type Page } from '../api';
import { CreateForm } from '../create-form';
import { canWrite, ErrorNote, Json, ListTable, useLoad } from '../ui';

interface EventType {
  id: string;
  name: string;
  schema: Record<string, unknown>;
}

const exampleSchema = JSON.stringify(
  { type: 'object', required: ['order_id'], properties: { order_id: { type: 'string' } } },
  null,
  2,
);

export function EventTypesPage() {
  const list = useLoad(
    () => api<Page<EventType>>('api/event-types', { query: { limit: '1000' } }),
    'event-types',
  );
  return (
    <main>
      <h1>Event types</h1>
      <ErrorNote error={list.error} />
      <ListTable
        caption="Event types"
        columns={['Name', 'Payload schema']}
        items={list.data?.data}
        empty="No event types yet."
        row={(t) => (
          <tr key={t.id}>
            <td>{t.name}</td>
            <td>
              <Json value={t.schema} label={`Schema of ${t.name}`} />
            </td>
          </tr>
        )}
      />
      {canWrite() && (
        <CreateForm
          title="New event type"
          id="new-event-type"
          fields={[
            { name: 'name', label: 'Name', hint: 'the event_type senders use, e.g. purchase' },
            { name: 'schema', label: 'Payload schema (JSON Schema)', kind: 'code', initial: exampleSchema },
          ]}
          submit="Create event type"
          onCreate={async ({ name, schema }) => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(schema ?? '');
            } catch (err) {
              throw new Error(`The schema is not JSON: ${(err as Error).message}`);
            }
            await api('api/event-types', { method: 'POST', body: { name, schema: parsed } });
            list.reload();
            return `Event type ${name} created.`;
          }}
        />
      )}
    </main>
  );
}
