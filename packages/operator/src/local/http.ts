/**
 * `ballast dev`'s admin HTTP: the KVCluster with its status, the members, stopping and starting a
 * member (to simulate losing and regaining a machine), and operator metrics.
 */
import type { Server } from 'node:http';
import express from 'express';
import { Counter, Gauge, Registry } from 'prom-client';
import type { LocalRuntime } from './runtime.js';

export async function startDevAdmin(runtime: LocalRuntime, port: number): Promise<Server> {
  const app = express();
  const registry = new Registry();
  new Counter({
    name: 'ballast_operator_reconciles_total',
    help: 'Reconciles run, by result',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: 'ok' }, runtime.stats.reconciles - runtime.stats.reconcileErrors);
      this.inc({ result: 'error' }, runtime.stats.reconcileErrors);
    },
  });
  new Counter({
    name: 'ballast_operator_reconcile_seconds_total',
    help: 'Time spent reconciling',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(runtime.stats.reconcileSecondsTotal);
    },
  });
  new Gauge({
    name: 'ballast_operator_baseline_pending_deadline_seconds',
    help: 'Unix time at which the pending baseline change is applied (absent when none is pending)',
    labelNames: ['cluster'],
    registers: [registry],
    collect() {
      this.reset();
      const deadline = runtime.pendingDeadlineMs();
      if (deadline !== null) this.set({ cluster: runtime.name }, deadline / 1000);
    },
  });
  new Gauge({
    name: 'ballast_operator_members',
    help: 'Members by state',
    labelNames: ['cluster', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      const views = runtime.memberViews();
      this.set({ cluster: runtime.name, state: 'ready' }, views.filter((view) => view.ready).length);
      this.set({ cluster: runtime.name, state: 'running' }, views.filter((view) => view.running).length);
      this.set({ cluster: runtime.name, state: 'stopped' }, views.filter((view) => !view.running).length);
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
