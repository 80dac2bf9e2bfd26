/**
 * `ballast dev`'s admin HTTP: the KVCluster with its status, the members, stopping and starting a
 * member (to simulate losing and regaining a machine), and operator metrics.
 */
import type { Server } from 'node:http';
import express from 'express';
import { Registry } from 'prom-client';
import { registerOperatorMetrics } from '../metrics.js';
import type { LocalRuntime } from './runtime.js';

export async function startDevAdmin(runtime: LocalRuntime, port: number): Promise<Server> {
  const app = express();
  const registry = new Registry();
  registerOperatorMetrics(registry, {
    stats: runtime.stats,
    clusters: () => {
      const views = runtime.memberViews();
      const status = runtime.kvcluster().status;
      return [
        {
          namespace: 'local',
          cluster: runtime.name,
          pendingDeadlineMs: runtime.pendingDeadlineMs(),
          members: { ready: views.filter((view) => view.ready).length, running: views.filter((view) => view.running).length, stopped: views.filter((view) => !view.running).length },
          partitions: { underReplicated: status?.partitions.underReplicated ?? 0, lost: status?.partitions.lost ?? 0 },
        },
      ];
    },
  });
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
