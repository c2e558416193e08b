/** Export: the document built from a snapshot of an instance, sorted so two exports diff cleanly. */
import { channelSecretKey } from '../alerts/channels.js';
import type { AlertChannelHealth } from '../alerts/schemas.js';
import { type ConfigDocument, type ConfigSnapshot, configDocumentVersion } from './document.js';
import { compare, withOptional } from './plan/compare.js';

/** Builds the document from a snapshot of an instance. Pure. */
export function buildConfigDocument(snapshot: ConfigSnapshot, exportedAt: string): ConfigDocument {
  const secretKey = new Map(snapshot.secrets.map((s) => [s.id, s.key]));
  const sourceSlug = new Map(snapshot.sources.map((s) => [s.id, s.slug]));
  const destinationName = new Map(snapshot.destinations.map((d) => [d.id, d.name]));
  const pipeName = new Map(snapshot.pipes.map((p) => [p.id, p.name]));
  const channelSecrets = new Set(snapshot.channels.map((c) => channelSecretKey(c.id)));
  const keyOf = (id: string) => secretKey.get(id) ?? id;
  const by =
    <T>(key: (item: T) => string) =>
    (a: T, b: T) =>
      compare(key(a), key(b));

  return {
    format: 'openpipes-config',
    version: configDocumentVersion,
    exported_at: exportedAt,
    secrets: snapshot.secrets
      .filter((s) => !channelSecrets.has(s.key))
      .map((s) => withOptional({ key: s.key }, 'description', s.description))
      .sort(by((s) => s.key)),
    event_types: snapshot.eventTypes
      .map((e) => withOptional({ name: e.name, schema: e.schema }, 'description', e.description))
      .sort(by((e) => e.name)),
    sources: snapshot.sources
      .map((s) => {
        const { id: _id, version: _v, created_at: _c, updated_at: _u, auth, ...rest } = s;
        const exported =
          auth.type === 'none'
            ? { type: 'none' as const }
            : auth.type === 'bearer'
              ? { type: 'bearer' as const, secret: keyOf(auth.secret_id) }
              : {
                  type: 'hmac' as const,
                  secret: keyOf(auth.secret_id),
                  tolerance_seconds: auth.tolerance_seconds,
                };
        return { ...rest, auth: exported };
      })
      .sort(by((s) => s.slug)),
    destinations: snapshot.destinations
      .map((d) => {
        const { id: _id, version: _v, created_at: _c, updated_at: _u, secret_ids, ...rest } = d;
        return { ...rest, secrets: secret_ids.map(keyOf) };
      })
      .sort(by((d) => d.name)),
    pipes: snapshot.pipes
      .map((p) => {
        const {
          id: _id,
          version: _v,
          created_at: _c,
          updated_at: _u,
          source_id,
          destination_id,
          ...rest
        } = p;
        return {
          ...rest,
          source: sourceSlug.get(source_id) ?? source_id,
          destination: destinationName.get(destination_id) ?? destination_id,
        };
      })
      .sort(by((p) => p.name)),
    alert_channels: snapshot.channels
      .map((c) => {
        // Only the configuration: a channel listed with its health (last delivery, failure
        // counts) must not carry it into the document, which is strict about its fields.
        const { id, version: _v, created_at: _c, updated_at: _u, url_secret_id, pipe_ids, ...withHealth } = c;
        const {
          last_delivery: _last,
          consecutive_failures: _failures,
          failure_count: _count,
          dropped_count: _dropped,
          ...rest
        } = withHealth as typeof withHealth & Partial<AlertChannelHealth>;
        const key = keyOf(url_secret_id);
        return {
          ...rest,
          url_secret: key === channelSecretKey(id) ? null : key,
          pipes: pipe_ids.map((pid) => pipeName.get(pid) ?? pid),
        };
      })
      .sort(by((c) => c.name)),
  };
}
