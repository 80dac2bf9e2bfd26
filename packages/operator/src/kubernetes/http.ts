/**
 * The Kubernetes operator's HTTP endpoints: `/metrics` (Prometheus) on one port, `/healthz` and
 * `/readyz` on another. Healthy while the process runs its loops; ready once it is the leader with
 * its caches synced, or a standby (a standby is ready: it can take over).
 */
import type { Server } from 'node:http';
import express from 'express';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { registerOperatorMetrics, type ReconcileStats } from '../metrics.js';
import type { KubernetesRuntime } from './runtime.js';

export interface OperatorHttpState {
  /** The process's reconcile counters, handed to the runtime once this replica leads. */
  stats: ReconcileStats;
  runtime: () => KubernetesRuntime | null;
  leader: () => boolean;
}

function listen(app: express.Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, () => resolve(server));
    server.once('error', reject);
  });
}

export async function startOperatorHttp(state: OperatorHttpState, options: { metricsPort: number; healthPort: number; host?: string }): Promise<Server[]> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // A standby (no runtime yet) reports no cluster and no reconcile.
  registerOperatorMetrics(registry, { stats: state.stats, clusters: () => state.runtime()?.metricsViews() ?? [] });
  new Gauge({
    name: 'ballast_operator_leader',
    help: '1 while this operator replica is the leader',
    registers: [registry],
    collect() {
      this.set(state.leader() ? 1 : 0);
    },
  });
  const metrics = express();
  metrics.get('/metrics', (_request, response) => {
    void registry.metrics().then((text) => response.type(registry.contentType).send(text));
  });
  const health = express();
  health.get('/healthz', (_request, response) => {
    response.json({ ok: true });
  });
  health.get('/readyz', (_request, response) => {
    response.json({ ok: true, leader: state.leader() });
  });
  const host = options.host ?? '0.0.0.0';
  return Promise.all([listen(metrics, options.metricsPort, host), listen(health, options.healthPort, host)]);
}
