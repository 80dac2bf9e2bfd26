/**
 * Cluster admin API (docs/admin-api.md), served by every node in cluster mode:
 *   GET  /v1/cluster            state, map version, baseline, online nodes, partition summary
 *   POST /v1/cluster/activate   {"partitions":256,"backups":1,"writeSynchronization":"FULL_SYNC"} on first activation
 *   POST /v1/cluster/state      {"state":"ACTIVE"|"ACTIVE_READ_ONLY"|"INACTIVE"}
 * Writes need `Authorization: Bearer <cluster token>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { CLUSTER_STATES, WRITE_SYNCHRONIZATIONS, type ClusterState, type WriteSynchronization } from '@ballast/cluster';
import { ClusterError, type ClusterNode } from '../cluster/cluster-node.js';

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
}
