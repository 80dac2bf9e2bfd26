// The dashboard and the alert rules against a real Prometheus (the Debian package) scraping a real
// `ballast dev` cluster (3 storage node processes) and its operator, under client load:
// - Prometheus finds the nodes through `ballast dev`'s /v1/prometheus/targets (http_sd) and
//   scrapes them and the operator;
// - every template variable of the dashboard, its own query taken from the dashboard JSON and
//   evaluated as Grafana does (`label_values(M, L)`: the values of L on the series of M in the
//   dashboard's time range, the earlier variables substituted), finds the namespace, the cluster and
//   its nodes; a broken variable query fails here;
// - every expression of the dashboard (variables filled in with those values, as Grafana would)
//   returns data, with a member stopped so that the baseline-change panels have something to show;
// - every alert rule evaluates without error, and BallastBaselineChangePending fires for the
//   stopped member while nothing data-losing (BallastPartitionsLost) does.
// Fault: one member stopped (machine lost) under load. Invariant: the monitoring sees it (nodes
// down, under-replicated partitions, a pending baseline change with its deadline).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, removeDirectory, temporaryDirectory } from '@ballast/testkit';
import { clusterClient, waitFor } from '../cluster/support/cluster-helpers.js';
import { DevHarness, kvclusterYaml } from '../operator/support/dev-harness.js';

const DASHBOARD = 'manifests/monitoring/grafana-dashboard.json';
const RULES = path.resolve('manifests/monitoring/ballast-rules.yaml');
const RATE_INTERVAL = '15s';

interface QueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}
interface DashboardVariable {
  name: string;
  type: string;
  query?: string | { query: string };
  definition?: string;
  regex?: string;
  multi?: boolean;
  includeAll?: boolean;
}
interface Dashboard {
  panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }>;
  templating: { list: DashboardVariable[] };
  time: { from: string; to: string };
}

const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
// Grafana's `label_values(metric{matchers}, label)` and `label_values(label)`; the selector may
// hold commas, so the label is what follows the last one.
const LABEL_VALUES_OF_SERIES = new RegExp(`^label_values\\(\\s*(.+),\\s*(${LABEL_NAME})\\s*\\)$`, 's');
const LABEL_VALUES = new RegExp(`^label_values\\(\\s*(${LABEL_NAME})\\s*\\)$`);

/** A variable's value in a query, as Grafana's Prometheus data source writes it (its
 * prometheusRegularEscape and prometheusSpecialRegexEscape): for a multi-value or All variable,
 * regex-escaped inside a PromQL string, several values as an alternation. */
function formatVariable(variable: DashboardVariable, values: string[]): string {
  if (variable.multi !== true && variable.includeAll !== true) return values[0]!.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'");
  const escaped = values.map((value) => value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&'));
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
}

/** `$name` and `${name}` replaced by the values chosen for the variables named; others left. */
function interpolate(text: string, chosen: Map<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => chosen.get((braced ?? bare)!) ?? whole);
}

/** The seconds before now of a Grafana relative time (`now-1h`). */
function secondsBeforeNow(relative: string): number {
  const match = /^now-(\d+)([smhd])$/.exec(relative);
  if (match === null) throw new Error(`unsupported dashboard time ${relative}`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
}

describe('monitoring against a real Prometheus and a real ballast dev cluster', () => {
  let dev: DevHarness;
  let prometheus: ChildProcess | null = null;
  let prometheusLog = '';
  let prometheusUrl = '';
  const prometheusDir = temporaryDirectory('ballast-prometheus-');
  let namespace = '';
  let loadRunning = true;
  let load: Promise<number> = Promise.resolve(0);

  async function query(expr: string): Promise<QueryResult> {
    const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(10_000) });
    return (await response.json()) as QueryResult;
  }

  /** What a query variable offers, as Grafana finds it: its query (variables before it substituted)
   * run against Prometheus over the dashboard's time range, then its regex applied. */
  async function variableValues(variable: DashboardVariable, chosen: Map<string, string>, timeFrom: string): Promise<string[]> {
    const text = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    if (text === undefined) throw new Error(`variable ${variable.name} has no query`);
    const expanded = interpolate(text.trim(), chosen);
    const endSeconds = Date.now() / 1000;
    const range = `start=${endSeconds - secondsBeforeNow(timeFrom)}&end=${endSeconds}`;
    let values: string[];
    const ofSeries = LABEL_VALUES_OF_SERIES.exec(expanded);
    const ofLabel = LABEL_VALUES.exec(expanded);
    if (ofSeries !== null) {
      const [, selector, label] = ofSeries as unknown as [string, string, string];
      const response = await fetch(`${prometheusUrl}/api/v1/series?match[]=${encodeURIComponent(selector)}&${range}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await response.json()) as { status: string; error?: string; data?: Array<Record<string, string>> };
      if (body.status !== 'success') throw new Error(`variable ${variable.name}: ${expanded}: ${body.error ?? response.status}`);
      values = [...new Set(body.data!.flatMap((series) => (series[label] === undefined ? [] : [series[label]])))];
    } else if (ofLabel !== null) {
      const response = await fetch(`${prometheusUrl}/api/v1/label/${ofLabel[1]}/values?${range}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await response.json()) as { status: string; error?: string; data?: string[] };
      if (body.status !== 'success') throw new Error(`variable ${variable.name}: ${expanded}: ${body.error ?? response.status}`);
      values = body.data!;
    } else {
      throw new Error(`variable ${variable.name}: ${text}: not a query form this test evaluates (label_values(metric, label) or label_values(label))`);
    }
    const regex = /^\/(.*)\/([a-z]*)$/s.exec(variable.regex ?? '');
    if (regex !== null) {
      const pattern = new RegExp(regex[1]!, regex[2]);
      values = values.flatMap((value) => {
        const match = pattern.exec(value);
        return match === null ? [] : [match[1] ?? value];
      });
    }
    return values.sort();
  }

  beforeAll(async () => {
    dev = await DevHarness.create(3);
    // A long grace: the baseline change stays pending while the test looks at it.
    dev.writeSpec(kvclusterYaml({ replicas: 3, graceSeconds: 600 }));
    await dev.start();
    await dev.waitSettled(['t-0', 't-1', 't-2'], 60_000);

    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${RULES}`,
      'scrape_configs:',
      '  - job_name: ballast-nodes',
      '    http_sd_configs:',
      `      - url: ${dev.api('/v1/prometheus/targets')}`,
      '        refresh_interval: 2s',
      '  - job_name: ballast-operator',
      '    static_configs:',
      `      - targets: ['${new URL(dev.api('/')).host}']`,
      '',
    ].join('\n');
    writeFileSync(path.join(prometheusDir, 'prometheus.yml'), config);
    prometheus = spawn(
      'prometheus',
      [`--config.file=${path.join(prometheusDir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(prometheusDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    prometheus.stderr!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    prometheus.once('error', (error) => (prometheusLog += `\nspawn failed: ${error.message} (apt-get install prometheus; .ci/run installs it)`));
    await waitFor('Prometheus is ready', async () => ((await fetch(`${prometheusUrl}/-/ready`).catch(() => null))?.ok === true ? true : undefined), 30_000, 200).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${prometheusLog}`);
    });

    // Client load through the whole test (bounded: it stops in afterAll, or after 3 minutes).
    const members = await dev.members();
    const client = clusterClient(members.map((member) => member.port));
    const started = performance.now();
    load = (async () => {
      let writes = 0;
      while (loadRunning && performance.now() - started < 180_000) {
        const key = `key:${writes % 500}`;
        try {
          await client.set(key, `value:${writes}`);
          await client.get(key);
          writes++;
        } catch {
          // A stopped member: ioredis retries and follows the redirects; the figure is writes.
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      client.disconnect();
      return writes;
    })();
  }, 120_000);

  afterAll(async () => {
    loadRunning = false;
    await load;
    if (prometheus !== null && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await dev?.close();
    removeDirectory(prometheusDir);
  }, 60_000);

  it('discovers and scrapes every member and the operator', async () => {
    const targets = (await dev.getJson<Array<{ labels: Record<string, string> }>>('/v1/prometheus/targets'));
    namespace = targets[0]!.labels['namespace']!;
    expect(namespace).toBeTruthy();
    await waitFor('Prometheus scrapes 3 nodes and the operator', async () => {
      const up = await query('up == 1');
      const jobs = up.data?.result.map((sample) => `${sample.metric['job']}/${sample.metric['node'] ?? ''}`).sort() ?? [];
      return jobs.join() === 'ballast-nodes/t-0,ballast-nodes/t-1,ballast-nodes/t-2,ballast-operator/' ? true : undefined;
    }, 30_000, 500);
    const nodes = await query(`ballast_cluster_map_version{namespace="${namespace}", cluster="t"}`);
    expect(nodes.data!.result.map((sample) => sample.metric['node']).sort()).toEqual(['t-0', 't-1', 't-2']);
  }, 60_000);

  it('returns data for every dashboard expression, with a member stopped under load', async () => {
    // Some seconds of load on a healthy cluster first (rates need samples), then lose a machine.
    await waitFor('commands counted under load', async () => {
      const result = await query(`sum(rate(ballast_commands_total{namespace="${namespace}", cluster="t"}[${RATE_INTERVAL}])) > 10`);
      return (result.data?.result.length ?? 0) > 0 ? true : undefined;
    }, 60_000, 1000);
    const stop = await fetch(dev.api('/v1/members/t-2/stop'), { method: 'POST' });
    expect(stop.status).toBe(200);
    await waitFor('the operator reports a pending baseline change', async () => {
      const result = await query(`ballast_operator_baseline_pending_deadline_seconds{namespace="${namespace}", cluster="t"}`);
      return (result.data?.result.length ?? 0) > 0 ? true : undefined;
    }, 60_000, 1000);
    await waitFor('the nodes report under-replicated partitions', async () => {
      const result = await query(`max(ballast_cluster_partitions{namespace="${namespace}", cluster="t", state="under_replicated"}) > 0`);
      return (result.data?.result.length ?? 0) > 0 ? true : undefined;
    }, 60_000, 1000);
    // A few more scrapes so that every rate window spans the stop.
    await new Promise((resolve) => setTimeout(resolve, 5000));

    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    // The variables, in order, each from its own query in the dashboard (a later one narrowed by the
    // values of the earlier ones, all of them chosen): the cluster under test and its nodes, the
    // stopped one included (it has series in the time range).
    const expected: Record<string, string[]> = { namespace: [namespace], cluster: ['t'], node: ['t-0', 't-1', 't-2'] };
    const chosen = new Map<string, string>();
    const queryVariables = dashboard.templating.list.filter((variable) => variable.type === 'query');
    expect(queryVariables.map((variable) => variable.name)).toEqual(Object.keys(expected));
    for (const variable of queryVariables) {
      const text = typeof variable.query === 'string' ? variable.query : variable.query?.query;
      // The definition is what Grafana shows for the query it runs.
      if (variable.definition !== undefined) expect(variable.definition, variable.name).toBe(text);
      const values = await variableValues(variable, chosen, dashboard.time.from);
      expect(values, `variable ${variable.name}: ${text}`).toEqual(expected[variable.name]);
      chosen.set(variable.name, formatVariable(variable, values));
    }
    chosen.set('__rate_interval', RATE_INTERVAL);
    const fill = (expr: string): string => interpolate(expr, chosen);
    const empty: string[] = [];
    let expressions = 0;
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        expressions++;
        const result = await query(fill(target.expr));
        expect(result.status, `${panel.title}: ${target.expr}: ${result.error ?? ''}`).toBe('success');
        if ((result.data?.result.length ?? 0) === 0) empty.push(`${panel.title}: ${target.expr}`);
      }
    }
    expect(expressions).toBeGreaterThanOrEqual(40);
    expect(empty).toEqual([]);
  }, 150_000);

  it('evaluates every alert rule without error and fires BallastBaselineChangePending for the stopped member', async () => {
    const alerts = await waitFor('BallastBaselineChangePending fires', async () => {
      const response = (await (await fetch(`${prometheusUrl}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string }> } };
      return response.data.alerts.some((alert) => alert.labels['alertname'] === 'BallastBaselineChangePending' && alert.state === 'firing') ? response.data.alerts : undefined;
    }, 30_000, 1000);
    expect(alerts.find((alert) => alert.labels['alertname'] === 'BallastBaselineChangePending')!.labels).toMatchObject({ namespace, cluster: 't', severity: 'warning' });
    // The stopped member is down (pending: the alert waits 2 minutes); nothing is lost.
    expect(alerts.some((alert) => alert.labels['alertname'] === 'BallastNodeDown')).toBe(true);
    expect(alerts.some((alert) => alert.labels['alertname'] === 'BallastPartitionsLost')).toBe(false);
    const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const evaluated = rules.data.groups.flatMap((group) => group.rules);
    expect(evaluated.length).toBeGreaterThanOrEqual(10);
    expect(evaluated.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.health} ${rule.lastError ?? ''}`)).toEqual([]);
    // The load kept running through the stop.
    loadRunning = false;
    expect(await load).toBeGreaterThan(100);
  }, 60_000);
});
