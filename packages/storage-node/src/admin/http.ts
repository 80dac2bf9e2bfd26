/**
 * Admin HTTP (express): probes, metrics and the versioned JSON API. See docs/admin-api.md.
 *   GET /livez    200 while the process serves requests at all
 *   GET /readyz   200 when the node accepts client traffic, else 503 with the reason
 *   GET /metrics  Prometheus text format
 *   GET /v1/node  node state as JSON
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { ClusterNode } from '../cluster/cluster-node.js';
import { mountClusterRoutes } from './cluster-routes.js';

export interface AdminSources {
  registry: Registry;
  readiness(): { ready: boolean; reason: string };
  nodeState(): Record<string, unknown>;
  log: { error(object: object, message: string): void };
  /** Cluster mode: the admin token and the node (null until it joined). */
  cluster?: { token: string; node(): ClusterNode | null };
}

export function createAdminApp(sources: AdminSources): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/livez', (_request, response) => {
    response.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_request, response) => {
    const { ready, reason } = sources.readiness();
    response.status(ready ? 200 : 503).type('text/plain').send(`${reason}\n`);
  });
  app.get('/metrics', async (_request, response, next) => {
    try {
      const body = await sources.registry.metrics();
      response.type(sources.registry.contentType).send(body);
    } catch (error) {
      next(error);
    }
  });
  app.get('/v1/node', (_request, response) => {
    response.json(sources.nodeState());
  });
  if (sources.cluster !== undefined) mountClusterRoutes(app, sources.cluster.node, sources.cluster.token);
  app.use((_request, response) => {
    response.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } });
  });
  app.use((error: Error, _request: Request, response: Response, _next: NextFunction) => {
    sources.log.error({ err: error }, 'admin request failed');
    response.status(500).json({ error: { code: 'INTERNAL', message: error.message } });
  });
  return app;
}
