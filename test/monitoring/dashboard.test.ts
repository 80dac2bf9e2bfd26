// The Grafana dashboard (manifests/monitoring/grafana-dashboard.json) as Grafana's JSON model
// expects it, without a Grafana: generated and fresh, the fields a dashboard must have, variables
// (data source, namespace, cluster, node) that the queries use, a unit on every panel, grid
// positions that fit 24 columns and do not overlap, unique ids and refIds, no hard-coded data source.
// Whether each query returns data is proven against a real Prometheus in prometheus.test.ts.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const DASHBOARD = 'manifests/monitoring/grafana-dashboard.json';

interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
  fieldConfig?: { defaults: { unit?: string } };
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: unknown;
  datasource?: { uid: string };
  multi?: boolean;
  includeAll?: boolean;
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
  time: { from: string; to: string };
};
const panels = dashboard.panels.filter((panel) => panel.type !== 'row');

// Grafana's built-in units the dashboard may use (a misspelt unit shows raw numbers).
const UNITS = new Set(['none', 'short', 'percentunit', 'percent', 's', 'ms', 'bytes', 'Bps', 'ops', 'reqps', 'bool', 'dateTimeAsIso']);

describe('the Grafana dashboard', () => {
  it('is what scripts/gen-dashboard.mjs generates', () => {
    const check = spawnSync(process.execPath, ['scripts/gen-dashboard.mjs', '--check'], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('has the fields of a Grafana dashboard model', () => {
    expect(dashboard.title).toBe('Ballast');
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.time).toEqual({ from: expect.any(String), to: 'now' });
    expect(panels.length).toBeGreaterThanOrEqual(30);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(['row', 'stat', 'timeseries'], panel.title).toContain(panel.type);
      expect(panel.title, `panel ${panel.id}`).toBeTruthy();
    }
  });

  it('has data source, namespace, cluster and node variables, each used by the queries', () => {
    const variables = dashboard.templating.list;
    expect(variables.map((variable) => variable.name)).toEqual(['datasource', 'namespace', 'cluster', 'node']);
    expect(variables[0]).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const variable of variables.slice(1)) {
      expect(variable, variable.name).toMatchObject({ type: 'query', datasource: { uid: '${datasource}' }, multi: true, includeAll: true });
    }
    // Each variable's query narrows by the variables before it.
    expect(JSON.stringify(variables[2]!.query)).toContain('$namespace');
    expect(JSON.stringify(variables[3]!.query)).toContain('$cluster');
    const expressions = panels.flatMap((panel) => panel.targets!.map((target) => target.expr));
    for (const name of ['namespace', 'cluster', 'node']) expect(expressions.some((expr) => expr.includes(`$${name}`)), name).toBe(true);
  });

  it('filters every cluster query by $namespace and $cluster, and the per-node row by $node', () => {
    let row = '';
    for (const panel of dashboard.panels) {
      if (panel.type === 'row') {
        row = panel.title;
        continue;
      }
      for (const target of panel.targets!) {
        // Operator-wide figures (reconciles) have no cluster; everything else is per cluster.
        const operatorWide = /ballast_operator_reconcile/.test(target.expr);
        if (!operatorWide) expect(target.expr, panel.title).toMatch(/namespace=~"\$namespace", cluster=~"\$cluster"/);
        if (row.startsWith('Per node')) expect(target.expr, panel.title).toContain('node=~"$node"');
      }
    }
  });

  it('gives every panel a unit, a description, targets with unique refIds, and the data source variable', () => {
    for (const panel of panels) {
      expect(UNITS.has(panel.fieldConfig?.defaults.unit ?? ''), `${panel.title}: unit ${panel.fieldConfig?.defaults.unit}`).toBe(true);
      expect(panel.description, panel.title).toBeTruthy();
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets!.length, panel.title).toBeGreaterThan(0);
      const refIds = panel.targets!.map((target) => target.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const target of panel.targets!) {
        expect(target.expr.trim(), panel.title).not.toBe('');
        expect(target.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
        // Rates use Grafana's $__rate_interval (at least four scrapes), not a fixed window.
        if (/\b(rate|increase)\(/.test(target.expr)) expect(target.expr, panel.title).toContain('[$__rate_interval]');
      }
    }
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const cells = new Set<string>();
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      expect(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `${panel.title} ${JSON.stringify(panel.gridPos)}`).toBe(true);
      for (let column = x; column < x + w; column++) {
        for (let line = y; line < y + h; line++) {
          const cell = `${column},${line}`;
          expect(cells.has(cell), `${panel.title} overlaps another panel at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
    }
  });

  it('shows health, throughput, latency, replication, baseline and rebalance, the operator and a per-node drill-down', () => {
    const rows = dashboard.panels.filter((panel) => panel.type === 'row').map((panel) => panel.title);
    expect(rows).toEqual(['Health', 'Throughput', 'Latency', 'Replication', 'Baseline and rebalance', 'Operator', 'Per node ($node)']);
    const expressions = panels.flatMap((panel) => panel.targets!.map((target) => target.expr)).join('\n');
    for (const metric of [
      'ballast_cluster_partitions',
      'ballast_commands_total',
      'ballast_command_duration_seconds_bucket',
      'ballast_replication_lag_entries',
      'ballast_primary_partitions_by_isr_size',
      'ballast_operator_baseline_pending_deadline_seconds',
      'ballast_operator_rebalance_progress_ratio',
      'ballast_rebalance_bytes_sent_total',
      'ballast_operator_reconciles_total',
    ]) {
      expect(expressions).toContain(metric);
    }
  });
});
