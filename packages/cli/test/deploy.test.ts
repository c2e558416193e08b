/**
 * The container and Kubernetes files at the root of the repository: the kustomize manifests render
 * with `kubectl kustomize` and name the image, the probes and the secrets; the Dockerfile and
 * compose.yaml say what docs/deployment.md promises. Images cannot be built on our machines (no
 * registry access), so the Dockerfile is checked as text.
 *
 * Without kubectl the rendering test skips with a message saying so, except under `CI=true`,
 * where a missing kubectl is an error (CI machines have it).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);
const inCi = !['', '0', 'false', undefined].includes(process.env.CI);

async function kubectlVersion(): Promise<string | null> {
  try {
    const { stdout } = await run('kubectl', ['version', '--client', '-o', 'json']);
    return (JSON.parse(stdout) as { clientVersion: { gitVersion: string } }).clientVersion.gitVersion;
  } catch (err) {
    const why = `kubectl is not available (${(err as Error).message.split('\n')[0]})`;
    if (inCi) throw new Error(`kubectl is required when CI is set, but ${why}`);
    console.warn(`\n[@openpipes/cli] SKIPPING the kustomize rendering test: ${why}.\n`);
    return null;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects, checked field by field
type K8s = any;

describe.skipIf(!(await kubectlVersion()))('deploy/kubernetes (kubectl kustomize)', () => {
  let docs: K8s[] = [];
  let deployments: K8s[] = [];
  let secret: K8s;
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
  beforeAll(async () => {
    const { stdout } = await run('kubectl', ['kustomize', join(root, 'deploy/kubernetes')]);
    docs = parseAllDocuments(stdout).map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS() as K8s;
    });
    deployments = byKind('Deployment');
    secret = byKind('Secret')[0];
  });

  it('renders the ingest and dispatch Deployments, a Service, a Secret and a PDB per role', () => {
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      'Deployment/openpipes-dispatch',
      'Deployment/openpipes-ingest',
      'PodDisruptionBudget/openpipes-dispatch',
      'PodDisruptionBudget/openpipes-ingest',
      'Secret/openpipes',
      'Service/openpipes',
    ]);
    const roles = deployments.map((d) => {
      const env = d.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
      const role = env.find((e) => e.name === 'OPENPIPES_ROLES')?.value;
      expect(d.spec.template.metadata.labels.role).toBe(role);
      return role;
    });
    expect(roles.sort()).toEqual(['dispatch', 'ingest']);
    expect(byKind('Service')[0].spec.selector).toEqual({ app: 'openpipes', role: 'ingest' });
    for (const pdb of byKind('PodDisruptionBudget')) {
      const target = deployments.find(
        (d) => d.spec.template.metadata.labels.role === pdb.spec.selector.matchLabels.role,
      );
      expect(target, pdb.metadata.name).toBeDefined();
      expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    }
  });

  it('names the image, /livez for liveness and /readyz for readiness, and a stop longer than the grace period', () => {
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      const [container] = pod.containers;
      expect(container.image).toBe('registry.example.com/openpipes:0.1.0');
      expect(container.livenessProbe.httpGet.path).toBe('/livez');
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      // A busy process is not killed: a minute of failed liveness checks before a restart.
      expect(
        container.livenessProbe.periodSeconds * container.livenessProbe.failureThreshold,
      ).toBeGreaterThanOrEqual(60);
      const grace = Number(
        container.env.find((e: { name: string }) => e.name === 'OPENPIPES_GRACE_MS').value,
      );
      const preStop = container.lifecycle.preStop.sleep.seconds;
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(grace + preStop * 1000);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
    }
  });

  it('takes the database URL, the secret key and the admin token from the Secret', () => {
    for (const d of deployments) {
      const env = d.spec.template.spec.containers[0].env as Array<{
        name: string;
        valueFrom?: { secretKeyRef: { name: string; key: string } };
      }>;
      const fromSecret = Object.fromEntries(
        env.filter((e) => e.valueFrom).map((e) => [e.name, e.valueFrom!.secretKeyRef]),
      );
      expect(Object.keys(fromSecret).sort()).toEqual([
        'OPENPIPES_ADMIN_TOKEN',
        'OPENPIPES_POSTGRES_URL',
        'OPENPIPES_SECRET_KEY',
      ]);
      for (const ref of Object.values(fromSecret)) {
        expect(ref.name).toBe(secret.metadata.name);
        expect(Object.keys(secret.stringData)).toContain(ref.key);
      }
      // No credential is written into a Deployment.
      expect(env.filter((e) => /SECRET|TOKEN|POSTGRES/.test(e.name)).every((e) => e.valueFrom)).toBe(true);
    }
  });
});

describe('Dockerfile and compose.yaml', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);

  it('builds in one stage and runs on the slim Node image, as a non-root user, with a HEALTHCHECK', () => {
    expect(stages.length).toBe(2);
    const runtime = stages[1]!;
    expect(runtime).toMatch(/^node:\d+-[a-z]+-slim\n/);
    expect(runtime).not.toMatch(/apt-get|npm (ci|install)|g\+\+/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/livez/m);
    expect(runtime).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "\/app\/packages\/cli\/bin\/openpipes\.js"\]$/m);
    // The engine's supported Node range (package.json "engines") includes the image's major.
    const major = Number(/^node:(\d+)/.exec(runtime)![1]);
    expect(major).toBeGreaterThanOrEqual(20);
    expect(major).toBeLessThan(25);
  });

  it('copies into the image every workspace package the CLI needs at run time', () => {
    // The CLI's dependencies, and theirs, among our own packages (console and browser are files http serves).
    const manifest = (dir: string) =>
      JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
      };
    const needed = new Set<string>();
    const visit = (dir: string) => {
      if (needed.has(dir)) return;
      needed.add(dir);
      for (const name of Object.keys(manifest(dir).dependencies ?? {})) {
        if (name.startsWith('@openpipes/')) visit(name.slice('@openpipes/'.length));
      }
    };
    visit('cli');
    const copied = /for p in ([\w\s-]+); do/.exec(dockerfile)?.[1]?.trim().split(/\s+/) ?? [];
    expect([...needed].filter((dir) => !copied.includes(dir))).toEqual([]);
    expect(needed).toContain('browser');
  });

  it('compose.yaml runs it on PostgreSQL, after PostgreSQL is healthy, with the secrets required', () => {
    const compose = parse(readFileSync(join(root, 'compose.yaml'), 'utf8')) as K8s;
    expect(Object.keys(compose.services).sort()).toEqual(['openpipes', 'postgres']);
    const app = compose.services.openpipes;
    expect(app.depends_on.postgres.condition).toBe('service_healthy');
    expect(app.environment.OPENPIPES_POSTGRES_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    // `${VAR:?message}`: compose refuses to start without them instead of running with none.
    expect(app.environment.OPENPIPES_SECRET_KEY).toMatch(/^\$\{OPENPIPES_SECRET_KEY:\?/);
    expect(app.environment.OPENPIPES_ADMIN_TOKEN).toMatch(/^\$\{OPENPIPES_ADMIN_TOKEN:\?/);
    expect(Number.parseInt(app.stop_grace_period, 10) * 1000).toBeGreaterThan(
      Number(app.environment.OPENPIPES_GRACE_MS),
    );
  });
});
