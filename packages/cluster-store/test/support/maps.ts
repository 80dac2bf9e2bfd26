/**
 * Valid ClusterMaps for store tests, built with @ballast/cluster's transitions: version k of the
 * chain has nodes node-1 … node-k.
 */
import { createMap, registerNode, type ClusterMap, type NodeAddress } from '@ballast/cluster';
import type { NodeRegistration } from '../../src/index.js';

export function address(index: number): NodeAddress {
  return { host: '127.0.0.1', port: 20_000 + index, peerPort: 30_000 + index, adminPort: 40_000 + index };
}

/** Version 1 of a map (one node registered in a new map). */
export function firstMap(clusterId = 'test-cluster'): ClusterMap {
  return registerNode(createMap(clusterId), 'node-1', address(1));
}

/** The version after `map`: one more node registered. */
export function nextMap(map: ClusterMap, nodeId = `node-${map.version + 1}`): ClusterMap {
  return registerNode(map, nodeId, address(map.version + 1));
}

export function registration(nodeId: string, index = 1): NodeRegistration {
  return { nodeId, address: address(index), startedAtMs: Date.UTC(2030, 0, 1), incarnation: `${nodeId}-incarnation-1` };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(intervalMs);
  }
  return condition();
}
