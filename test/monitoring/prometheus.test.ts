// The dashboard and the alert rules against a real Prometheus (the Debian package) scraping a real
// `ballast dev` cluster (3 storage node processes) and its operator, under client load:
// - Prometheus finds the nodes through `ballast dev`'s /v1/prometheus/targets (http_sd) and
//   scrapes them and the operator;
// - every expression of the dashboard (variables filled in as Grafana would) returns data, with a
//   member stopped so that the baseline-change panels have something to show;
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

    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }> };
    const fill = (expr: string): string =>
      expr
        .replaceAll('$namespace', namespace)
        .replaceAll('$cluster', 't')
        .replaceAll('$node', '.*')
        .replaceAll('$__rate_interval', RATE_INTERVAL);
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
    // The variables' queries too.
    for (const variable of ['namespace', 'cluster', 'node']) {
      const result = await query(`count by (${variable}) (ballast_cluster_map_version{namespace=~"${namespace}", cluster=~"t"})`);
      expect(result.data!.result.length, variable).toBeGreaterThan(0);
    }
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
