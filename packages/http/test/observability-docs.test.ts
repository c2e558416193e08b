/**
 * docs/prometheus-rules.yaml, docs/grafana-dashboard.json and docs/observability.md against the
 * registry: the files parse, and every metric (and every label matched on) they name exists, so a
 * renamed metric cannot leave a dashboard or an alert silently empty.
 */
import { readFileSync } from 'node:fs';
import type { Pipes } from '@openpipes/core';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../src/index.js';

const docs = new URL('../../../docs/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, docs), 'utf8');

// The families and their labels, from a registry built the way the handler builds it (on a stand-in
// engine: no metric is collected here, only declared).
const stub = {
  observe: () => () => {},
  sandbox: { stats: async () => ({ workers: 1, workerRestarts: 0, perWorker: [] }) },
} as unknown as Pipes;
const { registry } = createMetrics(stub);
const families = new Map(
  registry
    .getMetricsAsArray()
    .map((m) => [m.name, (m as unknown as { labelNames: string[] }).labelNames ?? []] as const),
);

/** The family a series name belongs to (`x_bucket` → `x`), or null. */
function familyOf(series: string): string | null {
  if (families.has(series)) return series;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return families.has(base) ? base : null;
}

/** Every `openpipes_*` series in a PromQL expression, with the labels matched on in `{...}`. */
function seriesIn(expr: string): Array<{ name: string; labels: string[] }> {
  return [...expr.matchAll(/\b(openpipes_[a-z0-9_]+)(\{([^}]*)\})?/g)].map((m) => ({
    name: m[1]!,
    labels: [...(m[3] ?? '').matchAll(/([a-z_]+)\s*(=~|!~|!=|=)/g)].map((l) => l[1]!),
  }));
}

function checkExpr(expr: string, where: string) {
  for (const { name, labels } of seriesIn(expr)) {
    const family = familyOf(name);
    expect(family, `${where}: ${name} is not a metric of ours`).not.toBeNull();
    const known = [...families.get(family!)!, ...(name.endsWith('_bucket') ? ['le'] : [])];
    for (const label of labels) expect(known, `${where}: ${name} has no label ${label}`).toContain(label);
  }
  // `by (...)` groups only by labels some metric of the expression has.
  const used = new Set(seriesIn(expr).flatMap(({ name }) => [...families.get(familyOf(name)!)!, 'le']));
  for (const m of expr.matchAll(/\bby \(([^)]*)\)/g)) {
    for (const label of m[1]!.split(',').map((s) => s.trim())) {
      expect(used, `${where}: grouped by ${label}, which none of its metrics has`).toContain(label);
    }
  }
}

describe('the observability documents', () => {
  it('docs/prometheus-rules.yaml parses, and its alerts use only our metrics and labels', () => {
    const rules = parse(read('prometheus-rules.yaml')) as {
      groups: Array<{ name: string; rules: Array<Record<string, unknown>> }>;
    };
    const alerts = rules.groups.flatMap((g) => g.rules);
    expect(alerts.length).toBeGreaterThanOrEqual(5);
    for (const rule of alerts) {
      expect(rule.alert, JSON.stringify(rule)).toMatch(/^OpenPipes[A-Za-z]+$/);
      expect(typeof rule.expr).toBe('string');
      expect((rule.labels as { severity?: string }).severity).toMatch(/^(warning|critical)$/);
      expect((rule.annotations as { summary?: string }).summary).toBeTruthy();
      if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smh]$/);
      checkExpr(rule.expr as string, rule.alert as string);
    }
    const used = alerts.flatMap((r) => seriesIn(r.expr as string).map((s) => familyOf(s.name)));
    // The three questions: success rate, p95 send latency, backlog growing (with max).
    expect(used).toEqual(
      expect.arrayContaining([
        'openpipes_deliveries_total',
        'openpipes_send_duration_seconds',
        'openpipes_backlog',
      ]),
    );
    expect(alerts.find((r) => r.alert === 'OpenPipesBacklogGrowing')?.expr).toContain('max by (destination)');
  });

  it('docs/grafana-dashboard.json parses, and its panels use only our metrics and labels', () => {
    const dashboard = JSON.parse(read('grafana-dashboard.json')) as {
      uid: string;
      panels: Array<{ id: number; title: string; targets: Array<{ expr: string; refId: string }> }>;
    };
    expect(dashboard.uid).toBe('openpipes');
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    for (const { panel, expr } of exprs) {
      expect(seriesIn(expr).length, panel).toBeGreaterThan(0);
      checkExpr(expr, panel);
    }
    // The backlog is the same in every process: a dashboard that sums it multiplies it.
    for (const { expr } of exprs.filter((e) => e.expr.includes('openpipes_backlog'))) {
      expect(expr).toMatch(/^max by \(destination\) \(openpipes_backlog\)/);
    }
  });

  it('docs/observability.md lists exactly the metrics the registry has, and its PromQL uses only them', () => {
    const text = read('observability.md');
    const listed = new Set([...text.matchAll(/^\| `(openpipes_[a-z0-9_]+)`/gm)].map((m) => m[1]!));
    expect([...listed].sort()).toEqual([...families.keys()].filter((n) => n.startsWith('openpipes_')).sort());
    for (const [, block] of text.matchAll(/```promql\n([\s\S]*?)```/g)) checkExpr(block!, 'observability.md');
  });
});
