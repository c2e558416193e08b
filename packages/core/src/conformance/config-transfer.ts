/**
 * Config transfer scenarios every store can run: export from one engine, import into an empty one
 * on the same store kind, deliver through the imported configuration, import again and change
 * nothing. Real components: the store under test, the sandbox, a Meta stand-in on 127.0.0.1.
 *
 * ```ts
 * runEngineConfigTransfer({ name: 'SQLite', openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }) });
 * ```
 */
import { describe, expect, it } from 'vitest';
import type { ConfigProgress } from '../config-transfer/index.js';
import { isPipesError } from '../errors.js';
import { settled } from '../testing/helpers.js';
import {
  metaExampleSend,
  metaExampleTransform,
  purchaseEvent,
  purchaseSchema,
} from '../testing/meta-example.js';
import { startTestServer, type TestServer } from '../testing/test-server.js';
import type { EngineConformanceOptions } from './engine.js';
import { engineHarness } from './harness.js';

const token = 'EAAB-config-transfer-token-51c0';
const pixel = '112233445566';

// long-function: one list of it() cases sharing the engine harness set up at its top; every store runs it, the engine's executable spec
export function runEngineConfigTransfer(options: EngineConformanceOptions): void {
  describe(`config transfer on ${options.name}`, () => {
    const h = engineHarness(options, { prefix: 'config' });
    const engine = (egress: string[] = []) => h.engine(h.dbName(), { egressAllow: egress });

    const metaStandIn = async () => {
      const server = await startTestServer((request) => {
        const body = request.json as { data?: unknown[]; access_token?: string } | undefined;
        if (body?.access_token !== token || !request.url.includes(`/${pixel}/`)) {
          return { status: 400, body: { error: { message: 'Invalid OAuth access token.', code: 190 } } };
        }
        return { body: { events_received: body.data?.length ?? 0, fbtrace_id: 'cfg' } };
      });
      return h.track(server);
    };

    /** Staging: the example flow, a source with a bearer token, and an alert channel. */
    const staging = async (meta: TestServer) => {
      const pipes = await engine([meta.host]);
      const web = await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema });
      const metaToken = await pipes.secrets.create({
        key: 'META_ACCESS_TOKEN',
        value: token,
        description: 'Meta CAPI pixel token',
      });
      const metaPixel = await pipes.secrets.create({ key: 'META_PIXEL_ID', value: pixel });
      const destination = await pipes.destinations.create({
        name: 'meta-capi-prod',
        send: metaExampleSend(meta.url),
        max_batch_size: 1000,
        secret_ids: [metaToken.id, metaPixel.id],
        enabled: true,
      });
      const pipe = await pipes.pipes.create({
        name: 'purchase-to-meta',
        source_id: web.id,
        destination_id: destination.id,
        transform: metaExampleTransform,
        enabled: true,
      });
      await pipes.alerts.channels.create({
        name: 'ops-slack',
        type: 'slack',
        url: 'https://hooks.slack.example/services/T000/B000/XXXX',
        pipe_ids: [pipe.id],
        cooldown_seconds: 600,
      });
      return pipes;
    };

    it('imports an export into an empty instance that then delivers the same way; a second import changes nothing', async () => {
      const meta = await metaStandIn();
      const source = await staging(meta);
      const doc = JSON.parse(JSON.stringify(await source.config.export()));
      expect(JSON.stringify(doc)).not.toContain(token);
      expect(JSON.stringify(doc)).not.toContain('hooks.slack.example');

      const target = await engine([meta.host]);
      const plan = await target.config.import(doc, { dryRun: true });
      expect(plan.dry_run).toBe(true);
      expect(plan.summary).toMatchObject({ create: 4, missing: 2, skip: 1 });
      expect(plan.missing_secrets.map((s) => s.key)).toEqual(['META_ACCESS_TOKEN', 'META_PIXEL_ID']);
      expect((await target.sources.list()).data).toEqual([]);

      await target.secrets.create({ key: 'META_ACCESS_TOKEN', value: token });
      await target.secrets.create({ key: 'META_PIXEL_ID', value: pixel });
      const applied = await target.config.import(doc, { context: { actor: 'deploy' } });
      expect(applied.summary).toMatchObject({ create: 4, update: 1, missing: 0, skip: 1 });
      expect(applied.changes.find((c) => c.kind === 'secret' && c.action === 'update')).toMatchObject({
        name: 'META_ACCESS_TOKEN',
        fields: ['description'],
      });

      await target.start();
      const pipe = (await target.pipes.findByName('purchase-to-meta'))!;
      expect(pipe.enabled).toBe(true);
      await target.ingest('web', purchaseEvent('ord_cfg_1'));
      const [delivery] = await settled(target, pipe.id, 1);
      expect(delivery).toMatchObject({ status: 'delivered', event_id: 'ord_cfg_1' });

      const again = await target.config.import(doc, { context: { actor: 'deploy' } });
      expect(again.summary).toMatchObject({ create: 0, update: 0, missing: 0 });
      expect(again.changes.filter((c) => c.action !== 'unchanged').map((c) => c.name)).toEqual(['ops-slack']);

      // Once the channel exists here with its own URL, the import brings its settings.
      await target.alerts.channels.create({
        name: 'ops-slack',
        type: 'slack',
        url: 'https://hooks.slack.example/services/T111/B111/YYYY',
      });
      const withChannel = await target.config.import(doc, { context: { actor: 'deploy' } });
      expect(withChannel.changes.find((c) => c.kind === 'alert_channel')).toMatchObject({
        action: 'update',
        fields: ['cooldown_seconds', 'pipe_ids'],
      });
      const settledDoc = await target.config.import(doc);
      expect(settledDoc.changes.every((c) => c.action === 'unchanged')).toBe(true);

      const { exported_at: _a, ...exportedHere } = await target.config.export();
      const { exported_at: _b, ...exportedThere } = doc;
      expect(exportedHere).toEqual(exportedThere);

      const audit = await target.audit.list({ actor: 'deploy' });
      expect(audit.data.map((e) => e.entity_kind)).toEqual(
        expect.arrayContaining(['event_type', 'source', 'destination', 'pipe', 'alert_channel']),
      );
      expect(JSON.stringify(audit.data)).not.toContain(token);
    });

    it('refuses a document whose code does not compile before writing anything', async () => {
      const meta = await metaStandIn();
      const doc = JSON.parse(JSON.stringify(await (await staging(meta)).config.export()));
      doc.pipes[0].transform = 'function transform({ events }) {\n  return events.map(e => ({ ;\n}';
      const target = await engine();
      let error: unknown;
      try {
        await target.config.import(doc);
      } catch (err) {
        error = err;
      }
      expect(isPipesError(error) && error.code).toBe('COMPILE_ERROR');
      expect((error as Error).message).toMatch(/^pipe purchase-to-meta: /);
      expect((await target.sources.list()).data).toEqual([]);
      expect((await target.eventTypes.list()).data).toEqual([]);
    });

    it('reports progress while reading, checking and applying', async () => {
      const meta = await metaStandIn();
      const doc = await (await staging(meta)).config.export();
      const target = await engine();
      const seen: ConfigProgress[] = [];
      await target.config.import(doc, { onProgress: (p) => seen.push(p) });
      const phases = [...new Set(seen.map((p) => p.phase))];
      expect(phases).toEqual(['read', 'check', 'apply']);
      expect(seen.at(-1)).toMatchObject({ phase: 'apply', done: 4, total: 4 });
      expect(seen.some((p) => p.kind === 'pipe' && p.name === 'purchase-to-meta')).toBe(true);
    });
  });
}
