/**
 * Cluster admin API (docs/admin-api.md), served by every node in cluster mode:
 *   GET  /v1/cluster            state, map version, baseline, online nodes, partition summary
 *   POST /v1/cluster/activate   {"partitions":256,"backups":1,"writeSynchronization":"FULL_SYNC"} on first activation
 *   POST /v1/cluster/state      {"state":"ACTIVE"|"ACTIVE_READ_ONLY"|"INACTIVE"}
 *   GET  /v1/cluster/map        the ClusterMap document this node holds (read-only)
 *   GET  /v1/cluster/baseline, PUT /v1/cluster/baseline {"nodes":[...],"drain"?:bool},
 *   POST /v1/cluster/baseline/add {"nodes":[...]}, POST /v1/cluster/baseline/remove {"nodes":[...],"drain"?:bool}
 *   GET  /v1/cluster/rebalance (cluster-wide progress), GET /v1/cluster/rebalance/local (this node's share)
 *   PUT  /v1/cluster/rebalance/limits {"bytesPerSecond":N,"concurrentMoves":N}
 *   POST /v1/cluster/partitions/reset-lost {"partitions"?:[...]}
 * Writes need `Authorization: Bearer <cluster token>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { CLUSTER_STATES, rebalanceLimitsProblem, WRITE_SYNCHRONIZATIONS, type ClusterState, type RebalanceLimits, type WriteSynchronization } from '@ballast/cluster';
import { ClusterError, type ClusterNode } from '../cluster/cluster-node.js';

/** How long GET /v1/cluster/rebalance waits for each node's share (a node busy receiving answers late). */
const REBALANCE_REPORT_TIMEOUT_MS = 3000;

export function mountClusterRoutes(app: Express, clusterNode: () => ClusterNode | null, token: string): void {
  const joined = (): ClusterNode => {
    const node = clusterNode();
    if (node === null) throw new ClusterError('JOINING', 'this node is still joining the cluster', 503);
    return node;
  };
  const authorized = (request: Request, response: Response, next: NextFunction): void => {
    const given = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
    const a = createHash('sha256').update(token).digest();
    const b = createHash('sha256').update(given).digest();
    if (timingSafeEqual(a, b)) next();
    else response.status(401).json({ error: { code: 'UNAUTHORIZED', message: 'admin writes need Authorization: Bearer <cluster token>' } });
  };
  const json = express.json({ limit: '64kb' });
  const handle =
    (work: (request: Request) => Promise<unknown>) =>
    (request: Request, response: Response): void => {
      work(request).then(
        (body) => response.json(body),
        (error: unknown) => {
          if (error instanceof ClusterError) {
            response.status(error.httpStatus).json({ error: { code: error.code, message: error.message } });
          } else {
            response.status(500).json({ error: { code: 'INTERNAL', message: (error as Error).message } });
          }
        },
      );
    };

  app.get(
    '/v1/cluster',
    handle(async () => joined().summary()),
  );

  app.post(
    '/v1/cluster/activate',
    authorized,
    json,
    handle(async (request) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const options: { partitions?: number; backups?: number; writeSynchronization?: WriteSynchronization } = {};
      if (body.partitions !== undefined) {
        if (!Number.isInteger(body.partitions)) throw new ClusterError('BAD_REQUEST', 'partitions must be an integer', 400);
        options.partitions = body.partitions as number;
      }
      if (body.backups !== undefined) {
        if (!Number.isInteger(body.backups)) throw new ClusterError('BAD_REQUEST', 'backups must be an integer', 400);
        options.backups = body.backups as number;
      }
      if (body.writeSynchronization !== undefined) {
        if (!WRITE_SYNCHRONIZATIONS.includes(body.writeSynchronization as WriteSynchronization)) {
          throw new ClusterError('BAD_REQUEST', `writeSynchronization must be one of ${WRITE_SYNCHRONIZATIONS.join(', ')}`, 400);
        }
        options.writeSynchronization = body.writeSynchronization as WriteSynchronization;
      }
      const cluster = joined();
      await cluster.activate(options);
      return cluster.summary();
    }),
  );

  app.post(
    '/v1/cluster/state',
    authorized,
    json,
    handle(async (request) => {
      const state = (request.body as { state?: unknown } | undefined)?.state;
      if (!CLUSTER_STATES.includes(state as ClusterState)) {
        throw new ClusterError('BAD_REQUEST', `state must be one of ${CLUSTER_STATES.join(', ')}`, 400);
      }
      const cluster = joined();
      await cluster.setState(state as ClusterState);
      return cluster.summary();
    }),
  );

  const nodeList = (body: unknown): { nodes: string[]; drain: boolean } => {
    const record = (body ?? {}) as Record<string, unknown>;
    const nodes = record['nodes'];
    if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every((node) => typeof node === 'string' && node.length > 0)) {
      throw new ClusterError('BAD_REQUEST', 'the body must be {"nodes": ["node-id", ...]} with at least one node id', 400);
    }
    const drain = record['drain'];
    if (drain !== undefined && typeof drain !== 'boolean') throw new ClusterError('BAD_REQUEST', 'drain must be true or false', 400);
    return { nodes: nodes as string[], drain: drain === true };
  };
  const baselineView = (cluster: ClusterNode): Record<string, unknown> => {
    const summary = cluster.summary();
    return { baseline: summary['baseline'], onlineNodes: summary['onlineNodes'], mapVersion: summary['mapVersion'], rebalance: summary['rebalance'] };
  };

  app.get('/v1/cluster/baseline', handle(async () => baselineView(joined())));

  app.get(
    '/v1/cluster/map',
    handle(async () => {
      const map = joined().map();
      if (map === null) throw new ClusterError('NO_MAP', 'this node has not read the cluster map yet', 503);
      return map;
    }),
  );

  app.put(
    '/v1/cluster/baseline',
    authorized,
    json,
    handle(async (request) => {
      const { nodes, drain } = nodeList(request.body);
      const cluster = joined();
      await cluster.setBaseline(nodes, { drain });
      return baselineView(cluster);
    }),
  );

  app.post(
    '/v1/cluster/baseline/add',
    authorized,
    json,
    handle(async (request) => {
      const { nodes } = nodeList(request.body);
      const cluster = joined();
      await cluster.addToBaseline(nodes);
      return baselineView(cluster);
    }),
  );

  app.post(
    '/v1/cluster/baseline/remove',
    authorized,
    json,
    handle(async (request) => {
      const { nodes, drain } = nodeList(request.body);
      const cluster = joined();
      await cluster.removeFromBaseline(nodes, { drain });
      return baselineView(cluster);
    }),
  );

  app.get('/v1/cluster/rebalance/local', handle(async () => joined().localRebalance()));

  app.get(
    '/v1/cluster/rebalance',
    handle(async () => {
      const cluster = joined();
      const summary = cluster.rebalanceSummary();
      const nodes = await Promise.all(
        cluster.onlineAdminAddresses().map(async ({ nodeId, host, adminPort }) => {
          if (nodeId === cluster.nodeId) return { nodeId, ok: true as const, report: cluster.localRebalance() };
          try {
            const response = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${adminPort}/v1/cluster/rebalance/local`, { signal: AbortSignal.timeout(REBALANCE_REPORT_TIMEOUT_MS) });
            if (!response.ok) return { nodeId, ok: false as const, error: `HTTP ${response.status}` };
            return { nodeId, ok: true as const, report: (await response.json()) as ReturnType<ClusterNode['localRebalance']> };
          } catch (error) {
            return { nodeId, ok: false as const, error: (error as Error).message };
          }
        }),
      );
      let bytesMoved = 0;
      let bytesRemaining = 0;
      let throttleWaitSeconds = 0;
      for (const node of nodes) {
        if (!node.ok) continue;
        bytesMoved += node.report.bytesSent;
        bytesRemaining += node.report.bytesRemainingEstimate;
        throttleWaitSeconds += node.report.throttleWaitSeconds;
      }
      const startedAt = summary['startedAt'] as string | null;
      const finishedAt = summary['finishedAt'] as string | null;
      const elapsedSeconds = startedAt === null ? 0 : ((finishedAt === null ? Date.now() : Date.parse(finishedAt)) - Date.parse(startedAt)) / 1000;
      return {
        ...summary,
        bytesMoved,
        bytesRemaining: summary['inProgress'] === true ? bytesRemaining : 0,
        bytesPerSecond: elapsedSeconds > 0 ? Math.round(bytesMoved / elapsedSeconds) : 0,
        throttleWaitSeconds,
        nodes: nodes.map((node) => (node.ok ? { ...node.report } : { nodeId: node.nodeId, unreachable: node.error })),
      };
    }),
  );

  app.put(
    '/v1/cluster/rebalance/limits',
    authorized,
    json,
    handle(async (request) => {
      const problem = rebalanceLimitsProblem(request.body);
      if (problem !== null) throw new ClusterError('BAD_REQUEST', problem, 400);
      const cluster = joined();
      await cluster.setRebalanceLimits(request.body as RebalanceLimits);
      return cluster.rebalanceSummary();
    }),
  );

  app.post(
    '/v1/cluster/partitions/reset-lost',
    authorized,
    json,
    handle(async (request) => {
      const partitions = ((request.body ?? {}) as Record<string, unknown>)['partitions'];
      if (partitions !== undefined && !(Array.isArray(partitions) && partitions.every((partition) => Number.isInteger(partition) && (partition as number) >= 0))) {
        throw new ClusterError('BAD_REQUEST', 'partitions must be an array of partition numbers (or absent: every lost partition)', 400);
      }
      const cluster = joined();
      const { reset } = await cluster.resetLostPartitions(partitions as number[] | undefined);
      return { reset, summary: cluster.summary() };
    }),
  );
}
