/**
 * Alerts: the alert channels (type, what they watch, how their last message went; never the
 * webhook URL, which is a secret), with enable/disable and a test message.
 */
import { useState } from 'preact/hooks';
import { api, type Page } from '../api';
import { canWrite, Enabled, ErrorNote, ListTable, Time, useLoad } from '../ui';

interface AlertChannel {
  id: string;
  name: string;
  type: string;
  enabled: boolean;
  pipe_ids: string[];
  kinds: string[];
  cooldown_seconds: number;
  last_delivery: { ok: boolean; status: number | null; error: string | null; at: string } | null;
  consecutive_failures: number;
}

export function AlertsPage() {
  const list = useLoad(
    () => api<Page<AlertChannel>>('api/alert-channels', { query: { limit: '1000' } }),
    'alerts',
  );
  const [message, setMessage] = useState('');
  const [error, setError] = useState<Error | undefined>(undefined);
  const write = canWrite();
  const act = async (work: () => Promise<string>) => {
    setError(undefined);
    try {
      setMessage(await work());
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <main>
      <h1>Alerts</h1>
      <p>
        Channels that get failure alerts. Create them with <code>openpipes alerts create</code> or{' '}
        <code>POST /api/alert-channels</code>; their webhook URL is a secret and is never shown.
      </p>
      <ErrorNote error={list.error ?? error} />
      <p role="status">{message}</p>
      <ListTable
        caption="Alert channels"
        columns={['Name', 'Type', 'State', 'Watches', 'Alerts', 'Last message', write && 'Actions']}
        items={list.data?.data}
        empty="No alert channels yet."
        row={(c) => (
          <tr key={c.id}>
            <td>{c.name}</td>
            <td>{c.type}</td>
            <td>
              <Enabled enabled={c.enabled} />
            </td>
            <td>{c.pipe_ids.length === 0 ? 'every pipe' : `${c.pipe_ids.length} pipes`}</td>
            <td>{c.kinds.join(', ')}</td>
            <td>
              {c.last_delivery ? (
                <>
                  {c.last_delivery.ok ? 'sent' : `failed: ${c.last_delivery.error ?? c.last_delivery.status}`}{' '}
                  <Time iso={c.last_delivery.at} />
                </>
              ) : (
                <span class="muted">none yet</span>
              )}
            </td>
            {write && (
              <td>
                <button
                  type="button"
                  onClick={() =>
                    act(async () => {
                      await api(`api/alert-channels/${encodeURIComponent(c.id)}/toggle`, {
                        method: 'PUT',
                        body: { enabled: !c.enabled },
                      });
                      return `${c.name} ${c.enabled ? 'disabled' : 'enabled'}.`;
                    })
                  }
                >
                  {c.enabled ? `Disable ${c.name}` : `Enable ${c.name}`}
                </button>{' '}
                <button
                  type="button"
                  onClick={() =>
                    act(async () => {
                      const r = await api<{ ok: boolean; error: string | null }>(
                        `api/alert-channels/${encodeURIComponent(c.id)}/test`,
                        { method: 'POST', body: {} },
                      );
                      return r.ok ? `Test message sent to ${c.name}.` : `${c.name} refused it: ${r.error}`;
                    })
                  }
                >
                  Test {c.name}
                </button>
              </td>
            )}
          </tr>
        )}
      />
    </main>
  );
}
