// The pure parts of the Kubernetes runtime: the objects built for a KVCluster (owner references,
// labels, the StatefulSet's pod template and restart policy, least-privilege node Role, the
// Prometheus Operator PodMonitor / ServiceMonitor and the target labels they set), the
// observation of pods / ClusterMap / presence, the StatefulSet size for a run-members action, and
// the work queue's coalescing and back-off.
import { activate, createMap, registerNode } from '@ballast/cluster';
import { PodMonitor, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { describe, expect, it } from 'vitest';
import { applyDefaults, type KVCluster } from '../src/api.js';
import { CONFIG_HASH_ANNOTATION, desiredObjects, MONITORING_KINDS, podMonitor, serviceMonitor, storeUrlOf, templateHash, tokenSecret } from '../src/kubernetes/objects.js';
import { mapFromConfigMap, observeCluster, observeMembers } from '../src/kubernetes/observe.js';
import { replicasFor } from '../src/kubernetes/runtime.js';
import { WorkQueue } from '../src/kubernetes/work-queue.js';

function cluster(spec: Parameters<typeof applyDefaults>[0] = {}): KVCluster {
  return { apiVersion: 'ballast.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'kv', namespace: 'data', uid: 'uid-1', generation: 1 }, spec: applyDefaults(spec) };
}

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('objects of a KVCluster', () => {
  const objects = desiredObjects(cluster({ replicas: 3, durability: 'async', storage: { size: '5Gi', retainOnDelete: true } }), { nodeImage: 'ballast-node:test', replicas: 4 }) as Any[];
  const byKind = (kind: string): Any[] => objects.filter((object) => object.kind === kind);

  it('owns every object (controller owner reference) and labels it', () => {
    expect(objects.map((object) => `${object.kind}/${object.metadata.name}`)).toEqual([
      'ServiceAccount/kv-node', 'Role/kv-node', 'RoleBinding/kv-node', 'ConfigMap/kv-map', 'Service/kv-nodes', 'Service/kv', 'PodDisruptionBudget/kv', 'StatefulSet/kv',
    ]);
    for (const object of [...objects, tokenSecret(cluster(), 't') as Any]) {
      expect(object.metadata.namespace).toBe('data');
      expect(object.metadata.ownerReferences).toEqual([{ apiVersion: 'ballast.io/v1alpha1', kind: 'KVCluster', name: 'kv', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
      expect(object.metadata.labels['app.kubernetes.io/instance']).toBe('kv');
    }
  });

  it('runs members from a StatefulSet the operator restarts itself, one volume claim each', () => {
    const set = byKind('StatefulSet')[0]!;
    expect(set.spec).toMatchObject({ replicas: 4, serviceName: 'kv-nodes', podManagementPolicy: 'Parallel', updateStrategy: { type: 'OnDelete' }, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Delete' } });
    const pod = set.spec.template;
    expect(pod.metadata.annotations[CONFIG_HASH_ANNOTATION]).toBe(templateHash(cluster({ replicas: 3, durability: 'async', storage: { size: '5Gi', retainOnDelete: true } }), 'ballast-node:test'));
    expect(pod.spec.volumes).toEqual([{ name: 'token', secret: { secretName: 'kv-token', defaultMode: 0o440 } }]);
    const container = pod.spec.containers[0];
    expect(container.image).toBe('ballast-node:test');
    expect(container.args.join(' ')).toContain(`--cluster-store ${storeUrlOf(cluster())} --cluster-token-file /etc/ballast/token/token --partitions 256 --durability async`);
    expect(container.args.join(' ')).toContain('--advertise-host $(POD_NAME).kv-nodes.data.svc');
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    expect(set.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('5Gi');
    expect(byKind('PodDisruptionBudget')[0]!.spec.maxUnavailable).toBe(1);
    expect(byKind('Service').find((service) => service.metadata.name === 'kv-nodes')!.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
  });

  it('gives the nodes only their map ConfigMap and presence Leases', () => {
    const rules = byKind('Role')[0]!.rules as Any[];
    expect(rules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['kv-map'], verbs: ['get', 'list', 'watch', 'update'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['kv-map-node-kv-0', 'kv-map-node-kv-1', 'kv-map-node-kv-2', 'kv-map-node-kv-3'], verbs: ['update', 'delete'] },
    ]);
    expect(JSON.stringify(rules)).not.toContain('*');
  });

  it('scrapes the members through a PodMonitor or a ServiceMonitor, owned and labelled, setting the target labels cluster and node', () => {
    const relabelings = [
      { sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_instance'], targetLabel: 'cluster' },
      { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'node' },
    ];
    const pods = podMonitor(cluster()) as Any;
    const services = serviceMonitor(cluster()) as Any;
    // Valid against the Prometheus Operator's own schemas (throws otherwise).
    new PodMonitor(pods as never).validate();
    new ServiceMonitor(services as never).validate();
    for (const object of [pods, services]) {
      expect(object.apiVersion).toBe('monitoring.coreos.com/v1');
      expect(object.metadata).toMatchObject({ name: 'kv', namespace: 'data', ownerReferences: [{ kind: 'KVCluster', uid: 'uid-1', controller: true }] });
      expect(object.metadata.labels['app.kubernetes.io/instance']).toBe('kv');
    }
    const set = byKind('StatefulSet')[0]!;
    expect(pods.spec).toEqual({ selector: { matchLabels: set.spec.selector.matchLabels }, podMetricsEndpoints: [{ port: 'admin', path: '/metrics', relabelings }] });
    expect(services.spec.endpoints).toEqual([{ port: 'admin', path: '/metrics', relabelings }]);
    // The selector picks the headless Service (every member, ready or not), not the client Service.
    const selects = (service: Any): boolean => Object.entries(services.spec.selector.matchLabels as Record<string, string>).every(([key, value]) => service.metadata.labels[key] === value);
    expect(byKind('Service').filter(selects).map((service) => service.metadata.name)).toEqual(['kv-nodes']);
    expect(byKind('Service').find((service) => service.metadata.name === 'kv-nodes')!.spec.ports).toContainEqual({ name: 'admin', port: 8080, targetPort: 'admin' });
    // Not among the objects applied with the rest: the runtime applies them per spec.monitoring.
    expect(objects.some((object) => object.apiVersion.startsWith('monitoring.coreos.com'))).toBe(false);
    expect(MONITORING_KINDS.map((kind) => [kind.kind, kind.plural, kind.field])).toEqual([['PodMonitor', 'podmonitors', 'podMonitor'], ['ServiceMonitor', 'servicemonitors', 'serviceMonitor']]);
  });

  it('any pod template change (durability, image, scheduling, the operator\'s default image) changes the hash; scaling does not', () => {
    const hash = (spec: Parameters<typeof applyDefaults>[0], nodeImage = 'i'): string => (desiredObjects(cluster(spec), { nodeImage, replicas: 3 }).at(-1) as Any).spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
    expect(hash({ replicas: 3 })).toBe(hash({ replicas: 5 }));
    expect(hash({ durability: 'async' })).not.toBe(hash({ durability: 'sync' }));
    expect(hash({ image: 'x:2' })).not.toBe(hash({ image: 'x:1' }));
    expect(hash({ scheduling: { nodeSelector: { disk: 'ssd' } } })).not.toBe(hash({}));
    expect(hash({}, 'node:2')).not.toBe(hash({}, 'node:1'));
    expect(hash({})).toBe(templateHash(cluster({}), 'i'));
  });
});

describe('observation', () => {
  const address = (index: number) => ({ host: `kv-${index}.kv-nodes.data.svc`, port: 6379, peerPort: 16379, adminPort: 8080 });

  it('reads members from pods: running, online, configuration, starting', () => {
    const now = Date.parse('2026-11-22T12:00:00Z');
    const members = observeMembers(
      [
        { metadata: { name: 'kv-0', annotations: { [CONFIG_HASH_ANNOTATION]: 'h1' } }, status: { phase: 'Running', startTime: '2026-11-22T11:00:00Z' } },
        { metadata: { name: 'kv-1', annotations: { [CONFIG_HASH_ANNOTATION]: 'h1' } }, status: { phase: 'Running', startTime: '2026-11-22T11:59:50Z' } },
        { metadata: { name: 'kv-2', deletionTimestamp: '2026-11-22T11:59:59Z' }, status: { phase: 'Running' } },
      ],
      new Set(['kv-0']),
      now,
    );
    expect(members).toEqual([
      { name: 'kv-0', running: true, online: true, configHash: 'h1', starting: false },
      { name: 'kv-1', running: true, online: false, configHash: 'h1', starting: true },
      { name: 'kv-2', running: false, online: false, configHash: '', starting: false },
    ]);
  });

  it('reads the cluster from the ClusterMap ConfigMap: state, baseline, health, moves', () => {
    let map = createMap('kv');
    for (let i = 0; i < 3; i++) map = registerNode(map, `kv-${i}`, address(i));
    map = activate(map, { onlineNodes: Object.fromEntries([0, 1, 2].map((i) => [`kv-${i}`, address(i)])), partitionCount: 8, backups: 1, writeSynchronization: 'FULL_SYNC' });
    const stored = mapFromConfigMap({ 'map.json': JSON.stringify(map) });
    expect(stored?.version).toBe(map.version);
    expect(mapFromConfigMap(undefined)).toBeNull();
    expect(mapFromConfigMap({ 'map.json': '{not json' })).toBeNull();
    const observed = observeCluster(stored, ['kv-1', 'kv-0'], null)!;
    expect(observed).toMatchObject({ state: 'ACTIVE', activated: true, baseline: ['kv-0', 'kv-1', 'kv-2'], onlineNodes: ['kv-0', 'kv-1'], rebalance: null });
    expect(observed.partitions.total).toBe(8);
    expect(observeCluster(null, [], null)).toBeNull();
  });

  it('sizes the StatefulSet to run every named member', () => {
    expect(replicasFor('kv', ['kv-0', 'kv-1', 'kv-2'])).toBe(3);
    expect(replicasFor('kv', ['kv-0', 'kv-1', 'kv-2', 'kv-4'])).toBe(5);
    expect(replicasFor('kv', ['other-7'])).toBe(0);
  });
});

describe('work queue', () => {
  it('coalesces a key added while it waits or runs, never runs a key twice at once, and backs off after failures', async () => {
    const runs: string[] = [];
    let active = 0;
    let maxActive = 0;
    let fail = 2;
    const errors: number[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = new WorkQueue(
      async (key) => {
        runs.push(key);
        active++;
        maxActive = Math.max(maxActive, active);
        if (key === 'a' && runs.filter((item) => item === 'a').length === 1) await gate;
        active--;
        if (key === 'b' && fail-- > 0) throw new Error('boom');
      },
      (_key, _error, retryInMs) => errors.push(retryInMs),
      { baseBackoffMs: 20, concurrency: 1 },
    );
    queue.add('a');
    queue.add('a'); // running: remembered once
    queue.add('a');
    queue.add('b');
    queue.add('b'); // waiting: coalesced
    release();
    const deadline = Date.now() + 5000;
    while ((runs.filter((item) => item === 'b').length < 3 || queue.depth > 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(runs.filter((item) => item === 'a')).toHaveLength(2);
    expect(runs.filter((item) => item === 'b')).toHaveLength(3);
    expect(errors).toEqual([20, 40]);
    expect(maxActive).toBe(1);
    queue.stop();
  });
});
