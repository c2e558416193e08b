/**
 * Sources: the list, and one source with what a sender needs (the collect URL, copyable curl and
 * `navigator.sendBeacon` snippets, allowed origins, auth) and what it sent lately: the events
 * accepted and the events refused with their validation errors, newest first, polled so new ones
 * appear without a reload.
 */
import { useState } from 'preact/hooks';
import { api, mountRoot, type Page, type Rejection, type Source, type StoredEvent } from '../api';
import { CreateForm } from '../create-form';
import { Link } from '../router';
import { canWrite, Enabled, ErrorNote, ListTable, Time, useLoad } from '../ui';

/** Where a sender posts events for this source (absolute: it is pasted into other programs). */
export function collectUrl(slug: string): string {
  return new URL(`${mountRoot}collect/${encodeURIComponent(slug)}`, location.origin).toString();
}

const authLabel: Record<Source['auth']['type'], string> = {
  none: 'none (anyone may send; limit browsers with allowed origins)',
  bearer: 'bearer token (Authorization: Bearer <token>)',
  hmac: 'HMAC signature (X-OpenPipes-Timestamp and X-OpenPipes-Signature)',
};

export function SourcesPage() {
  const sources = useLoad(() => api<Page<Source>>('api/sources', { query: { limit: '1000' } }), 'sources');
  return (
    <main>
      <h1>Sources</h1>
      <ErrorNote error={sources.error} />
      <ListTable
        caption="Sources"
        columns={['Name', 'Slug', 'State', 'Auth', 'Collect URL']}
        items={sources.data?.data}
        empty="No sources yet."
        row={(s) => (
          <tr key={s.id}>
            <td>
              <Link to={`/sources/${s.id}`}>{s.name}</Link>
            </td>
            <td>{s.slug}</td>
            <td>
              <Enabled enabled={s.enabled} />
            </td>
            <td>{s.auth.type}</td>
            <td>
              <code>{collectUrl(s.slug)}</code>
            </td>
          </tr>
        )}
      />
      {canWrite() && (
        <CreateForm
          title="New source"
          id="new-source"
          fields={[
            { name: 'name', label: 'Name' },
            { name: 'slug', label: 'Slug', hint: 'the last part of its collect URL, e.g. web' },
          ]}
          submit="Create source"
          onCreate={async ({ name, slug }) => {
            await api('api/sources', { method: 'POST', body: { name, slug } });
            sources.reload();
            return `Source ${name} created.`;
          }}
        />
      )}
    </main>
  );
}

/** A snippet with a button that copies it (the clipboard API: no inline script, no selection tricks). */
function Snippet(props: { label: string; text: string }) {
  const [copied, setCopied] = useState('');
  return (
    <figure class="snippet">
      <figcaption>
        {props.label}{' '}
        <button
          type="button"
          onClick={() =>
            navigator.clipboard.writeText(props.text).then(
              () => setCopied('Copied.'),
              () => setCopied('Could not copy: select the text instead.'),
            )
          }
        >
          Copy {props.label}
        </button>{' '}
        <span role="status">{copied}</span>
      </figcaption>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region, focusable so keys scroll it */}
      <section class="json" aria-label={props.label} tabIndex={0}>
        <pre>{props.text}</pre>
      </section>
    </figure>
  );
}

function curlSnippet(source: Source, eventType: string): string {
  const event = JSON.stringify({
    event_type: eventType,
    event_time: '2026-01-01T12:00:00Z',
    event_payload: {},
  });
  const lines = [`curl -X POST '${collectUrl(source.slug)}'`, "  -H 'content-type: application/json'"];
  if (source.auth.type === 'bearer') lines.push('  -H "authorization: Bearer $OPENPIPES_SOURCE_TOKEN"');
  if (source.auth.type === 'hmac') {
    lines.push(
      '  -H "x-openpipes-timestamp: $TIMESTAMP"',
      '  -H "x-openpipes-signature: $SIGNATURE"  # HMAC-SHA256(secret, "$TIMESTAMP.$BODY"), hex',
    );
  }
  lines.push(`  -d '${event}'`);
  return lines.join(' \\\n');
}

function beaconSnippet(source: Source, eventType: string): string {
  return `navigator.sendBeacon(
  '${collectUrl(source.slug)}',
  JSON.stringify({
    event_type: '${eventType}',
    event_time: new Date().toISOString(),
    event_payload: { page: location.pathname },
  }),
);`;
}

export function SourcePage(props: { id: string }) {
  const path = `api/sources/${encodeURIComponent(props.id)}`;
  const source = useLoad(() => api<Source>(path), props.id);
  const types = useLoad(
    () => api<Page<{ name: string }>>('api/event-types', { query: { limit: '1' } }),
    'event-types',
  );
  const events = useLoad(
    () => api<Page<StoredEvent>>(`${path}/events`, { query: { limit: '20' } }),
    `${props.id}|events`,
    1500,
  );
  const rejections = useLoad(
    () => api<Page<Rejection>>(`${path}/rejections`, { query: { limit: '20' } }),
    `${props.id}|rejections`,
    1500,
  );
  const s = source.data;
  const eventType = types.data?.data[0]?.name ?? 'page_view';
  return (
    <main>
      <h1>Source {s?.name ?? props.id}</h1>
      <ErrorNote error={source.error} />
      {s && (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd>
              <Enabled enabled={s.enabled} />
            </dd>
            <dt>Collect URL</dt>
            <dd>
              <code>{collectUrl(s.slug)}</code>
            </dd>
            <dt>Auth</dt>
            <dd>{authLabel[s.auth.type]}</dd>
            <dt>Allowed origins</dt>
            <dd>
              {s.allowed_origins.length > 0
                ? s.allowed_origins.join(', ')
                : s.auth.type === 'none'
                  ? 'any (none listed)'
                  : 'none: browsers may not send (the secret must not be in a page)'}
            </dd>
            <dt>Deduplication window</dt>
            <dd>{s.dedup_window_seconds} s</dd>
          </dl>
          <h2>Send events</h2>
          <Snippet label="curl" text={curlSnippet(s, eventType)} />
          {s.auth.type === 'none' ? (
            <Snippet label="sendBeacon" text={beaconSnippet(s, eventType)} />
          ) : (
            <p class="muted">
              navigator.sendBeacon cannot send this source's {s.auth.type} credentials: send from a server.
            </p>
          )}
        </>
      )}
      <h2>Recent rejections</h2>
      <ErrorNote error={rejections.error} />
      <ListTable
        caption="Events refused at collect, newest first (updates by itself)"
        columns={['Received', 'Errors', 'Event as sent']}
        items={rejections.data?.data}
        empty="No rejected events."
        row={(r) => (
          <tr key={r.id} data-rejection={r.id}>
            <td>
              <Time iso={r.received_at} />
            </td>
            <td>
              <strong>{r.error.code}</strong>
              <ul class="issues">
                {r.error.issues.length === 0 ? (
                  <li>{r.error.message}</li>
                ) : (
                  r.error.issues.map((issue, i) => (
                    <li key={i}>
                      <code>{issue.path}</code>: {issue.message}
                    </li>
                  ))
                )}
              </ul>
            </td>
            <td>
              <code class="event">{r.event}</code>
              {r.truncated && <span class="muted"> (cut: the log keeps the first 4 KB)</span>}
            </td>
          </tr>
        )}
      />
      <h2>Last events received</h2>
      <ErrorNote error={events.error} />
      <ListTable
        caption="Accepted events, newest first (updates by itself)"
        columns={['Received', 'Type', 'Event id', 'Payload']}
        items={events.data?.data}
        empty="No events yet."
        row={(e) => (
          <tr key={e.id} data-event={e.id}>
            <td>
              <Time iso={e.received_at} />
            </td>
            <td>{e.event_type}</td>
            <td>{e.event_id}</td>
            <td>
              <code class="event">{JSON.stringify(e.event_payload)}</code>
            </td>
          </tr>
        )}
      />
      <p>
        <Link to="/sources">All sources</Link>
      </p>
    </main>
  );
}
