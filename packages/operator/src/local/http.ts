/**
 * `ballast dev`'s admin HTTP: the KVCluster with its status, the members, stopping and starting a
 * member (to simulate losing and regaining a machine), operator metrics, and the members as
 * Prometheus scrape targets (http_sd), labelled as the operator metrics label the cluster.
 */
import type { Server } from 'node:http';
import express from 'express';
import { Registry } from 'prom-client';
import { LOCAL_NAMESPACE, registerOperatorMetrics } from '../metrics.js';
import type { LocalRuntime } from './runtime.js';

export async function startDevAdmin(runtime: LocalRuntime, port: number): Promise<Server> {
  const app = express();
  const registry = new Registry();
  registerOperatorMetrics(registry, { stats: runtime.stats, clusters: () => [runtime.metricsView()] });
  app.get('/v1/kvcluster', (_request, response) => {
    response.json(runtime.kvcluster());
  });
  app.get('/v1/members', (_request, response) => {
    response.json(runtime.memberViews());
  });
  app.post('/v1/members/:name/stop', (request, response) => {
    void runtime.stopMember(request.params.name).then((found) => {
      if (found) response.json({ stopped: request.params.name });
      else response.status(404).json({ error: { code: 'NOT_FOUND', message: `no member ${request.params.name}` } });
    });
  });
  app.post('/v1/members/:name/start', (request, response) => {
    if (runtime.startMember(request.params.name)) response.json({ started: request.params.name });
    else response.status(404).json({ error: { code: 'NOT_FOUND', message: `no member ${request.params.name}` } });
  });
  // Prometheus HTTP service discovery (http_sd_configs): every member's admin port, stopped ones
  // too (they show as down), with the labels the alert rules group by.
  app.get('/v1/prometheus/targets', (_request, response) => {
    response.json(
      runtime.memberViews().map((member) => ({
        targets: [`${member.host}:${member.adminPort}`],
        labels: { namespace: LOCAL_NAMESPACE, cluster: runtime.name, node: member.name },
      })),
    );
  });
  app.get('/metrics', (_request, response) => {
    void registry.metrics().then((text) => response.type(registry.contentType).send(text));
  });
  app.use((_request, response) => {
    response.status(404).json({ error: { code: 'NOT_FOUND', message: 'unknown path' } });
  });
  return new Promise((resolve, reject) => {
    const server = app.listen(port, '127.0.0.1', () => resolve(server));
    server.once('error', reject);
  });
}
