/**
 * The Kubernetes objects of one KVCluster, built purely from the object (no I/O): what the
 * Kubernetes runtime server-side-applies. Every object carries the cluster's labels and a
 * controller owner reference, so deleting the KVCluster deletes them (and, per
 * spec.storage.retainOnDelete, the volume claims through the StatefulSet's retention policy).
 *
 * - StatefulSet `<name>`: one pod per member, stable names `<name>-<i>` (the node ids), a volume
 *   claim per member, `podManagementPolicy: Parallel` (members start together: activation needs them
 *   all) and `updateStrategy: OnDelete` (the operator, not the StatefulSet controller, decides when a
 *   member restarts: one at a time, only when safe). `replicas` is set by the runtime from the
 *   decision's run-members action, not here.
 * - Service `<name>-nodes`: headless, publishing not-ready pods, so peers resolve each other while
 *   they start; `<name>`: the client Service (Redis port).
 * - PodDisruptionBudget `<name>`: at most one member down for voluntary disruptions (drains).
 * - ConfigMap `<name>-map`: the ClusterMap store (kubernetes:// backend), created empty.
 * - ServiceAccount, Role and RoleBinding `<name>-node`: the nodes may read and update their map's
 *   ConfigMap and manage presence Leases in the namespace, nothing else.
 * - PodMonitor and ServiceMonitor `<name>` (Prometheus Operator, monitoring.coreos.com/v1), each only
 *   while its spec.monitoring toggle is on (MONITORING_KINDS): the runtime applies them apart from the
 *   rest, since their CRDs may be missing, and deletes them when the toggle goes off.
 * The token Secret is created once by the runtime (its value must never change), not applied.
 */
import { createHash } from 'node:crypto';
import type { KVCluster, KVClusterSpec } from '../api.js';

export const REDIS_PORT = 6379;
export const ADMIN_PORT = 8080;
export const PEER_PORT = 16379;
export const FIELD_MANAGER = 'ballast-operator';
export const CONFIG_HASH_ANNOTATION = 'ballast.io/config-hash';
export const DEFAULT_STORAGE = '10Gi';
/** Step down (≤ 10 s) and drain clients (≤ 10 s) fit with room to spare. */
export const TERMINATION_GRACE_SECONDS = 60;

export type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [key: string]: unknown }; [key: string]: unknown };

export interface Names {
  statefulSet: string;
  headless: string;
  client: string;
  configMap: string;
  secret: string;
  serviceAccount: string;
  pdb: string;
}

export function namesOf(cluster: KVCluster): Names {
  const name = cluster.metadata.name;
  return {
    statefulSet: name,
    headless: `${name}-nodes`,
    client: name,
    configMap: `${name}-map`,
    secret: cluster.spec.auth?.secretName ?? `${name}-token`,
    serviceAccount: `${name}-node`,
    pdb: name,
  };
}

/** Labels of every object of the cluster; the first two select its pods. */
export function labelsOf(cluster: KVCluster): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'ballast',
    'app.kubernetes.io/instance': cluster.metadata.name,
    'app.kubernetes.io/managed-by': 'ballast-operator',
  };
}

export function selectorOf(cluster: KVCluster): Record<string, string> {
  return { 'app.kubernetes.io/name': 'ballast', 'app.kubernetes.io/instance': cluster.metadata.name };
}

export function ownerReference(cluster: KVCluster): Record<string, unknown> {
  return { apiVersion: cluster.apiVersion, kind: cluster.kind, name: cluster.metadata.name, uid: cluster.metadata.uid, controller: true, blockOwnerDeletion: true };
}

/** The store URL the nodes use. */
export function storeUrlOf(cluster: KVCluster): string {
  return `kubernetes://${cluster.metadata.namespace ?? 'default'}/${namesOf(cluster).configMap}`;
}

function metadata(cluster: KVCluster, name: string, extra: Record<string, unknown> = {}): KubeObject['metadata'] {
  return { name, namespace: cluster.metadata.namespace ?? 'default', labels: labelsOf(cluster), ownerReferences: [ownerReference(cluster)], ...extra };
}

/** Every applied object (the Secret aside), in a dependency-friendly order. */
export function desiredObjects(cluster: KVCluster, options: { nodeImage: string; replicas: number }): KubeObject[] {
  return [serviceAccount(cluster), role(cluster, options.replicas), roleBinding(cluster), mapConfigMap(cluster), headlessService(cluster), clientService(cluster), podDisruptionBudget(cluster), statefulSet(cluster, options)];
}

export function serviceAccount(cluster: KVCluster): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(cluster, namesOf(cluster).serviceAccount), automountServiceAccountToken: true };
}

/** The node Role; `members`: how many members' presence Leases it covers (the StatefulSet's size). */
export function role(cluster: KVCluster, members = cluster.spec.replicas): KubeObject {
  const names = namesOf(cluster);
  const presenceLeases = Array.from({ length: Math.max(members, cluster.spec.replicas) }, (_, index) => `${names.configMap}-node-${cluster.metadata.name}-${index}`);
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: metadata(cluster, names.serviceAccount),
    rules: [
      // The map: read, watch and compare-and-swap (update at a resourceVersion) this ConfigMap only.
      { apiGroups: [''], resources: ['configmaps'], resourceNames: [names.configMap], verbs: ['get', 'list', 'watch', 'update'] },
      // Presence: every node reads the others' Leases; create cannot be limited by name; renewing and
      // deleting only the members' own Leases (not the operator's leader Lease or other clusters').
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: presenceLeases, verbs: ['update', 'delete'] },
    ],
  };
}

export function roleBinding(cluster: KVCluster): KubeObject {
  const names = namesOf(cluster);
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: metadata(cluster, names.serviceAccount),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: names.serviceAccount },
    subjects: [{ kind: 'ServiceAccount', name: names.serviceAccount, namespace: cluster.metadata.namespace ?? 'default' }],
  };
}

/** Created empty: the first node creates the map in it. Applying it never touches `data`. */
export function mapConfigMap(cluster: KVCluster): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: metadata(cluster, namesOf(cluster).configMap) };
}

/** Label that tells the headless Service from the client Service (the ServiceMonitor selects it). */
export const SERVICE_ROLE_LABEL = 'ballast.io/service';

function headlessServiceLabels(cluster: KVCluster): Record<string, string> {
  return { ...labelsOf(cluster), [SERVICE_ROLE_LABEL]: 'nodes' };
}

export function headlessService(cluster: KVCluster): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(cluster, namesOf(cluster).headless, { labels: headlessServiceLabels(cluster) }),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorOf(cluster),
      ports: [
        { name: 'redis', port: REDIS_PORT, targetPort: 'redis' },
        { name: 'peer', port: PEER_PORT, targetPort: 'peer' },
        { name: 'admin', port: ADMIN_PORT, targetPort: 'admin' },
      ],
    },
  };
}

export function clientService(cluster: KVCluster): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(cluster, namesOf(cluster).client),
    spec: { type: 'ClusterIP', selector: selectorOf(cluster), ports: [{ name: 'redis', port: REDIS_PORT, targetPort: 'redis' }] },
  };
}

export function podDisruptionBudget(cluster: KVCluster): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(cluster, namesOf(cluster).pdb),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorOf(cluster) } },
  };
}

/**
 * What a member runs with: a hash of the whole pod template (image, args, env, resources,
 * scheduling, security). A pod whose annotation differs is rolled (the StatefulSet's OnDelete
 * strategy leaves that to the operator).
 */
export function templateHash(cluster: KVCluster, nodeImage: string): string {
  const template = (statefulSet(cluster, { nodeImage, replicas: 0 }).spec as { template: { metadata: { annotations: Record<string, string> } } }).template;
  return template.metadata.annotations[CONFIG_HASH_ANNOTATION]!;
}

export function statefulSet(cluster: KVCluster, options: { nodeImage: string; replicas: number }): KubeObject {
  const names = namesOf(cluster);
  const storage = cluster.spec.storage ?? { size: DEFAULT_STORAGE };
  const podSpec = podSpecOf(cluster, options.nodeImage);
  const podLabels = { ...labelsOf(cluster), 'app.kubernetes.io/component': 'storage-node' };
  const hash = createHash('sha256').update(JSON.stringify([podLabels, podSpec])).digest('hex').slice(0, 16);
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: metadata(cluster, names.statefulSet),
    spec: {
      replicas: options.replicas,
      serviceName: names.headless,
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: storage.retainOnDelete === true ? 'Retain' : 'Delete', whenScaled: 'Delete' },
      selector: { matchLabels: selectorOf(cluster) },
      template: { metadata: { labels: podLabels, annotations: { [CONFIG_HASH_ANNOTATION]: hash } }, spec: podSpec },
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: 'data', labels: selectorOf(cluster) },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: storage.size } },
            ...(storage.storageClassName === undefined ? {} : { storageClassName: storage.storageClassName }),
          },
        },
      ],
    },
  };
}

/** The pod spec of every member (what templateHash covers). */
function podSpecOf(cluster: KVCluster, nodeImage: string): Record<string, unknown> {
  const names = namesOf(cluster);
  const spec = cluster.spec;
  const namespace = cluster.metadata.namespace ?? 'default';
  const scheduling = spec.scheduling ?? {};
  const env = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'BALLAST_NODE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    // Set by Kubernetes' pod topology labels (1.33+); empty elsewhere, and then zones are not used.
    { name: 'BALLAST_ZONE', valueFrom: { fieldRef: { fieldPath: `metadata.labels['${scheduling.zoneLabel ?? 'topology.kubernetes.io/zone'}']` } } },
  ];
  const args = [
    '--bind', '0.0.0.0',
    '--admin-bind', '0.0.0.0',
    '--port', String(REDIS_PORT),
    '--admin-port', String(ADMIN_PORT),
    '--peer-port', String(PEER_PORT),
    '--advertise-host', `$(POD_NAME).${names.headless}.${namespace}.svc`,
    '--data-dir', '/data',
    '--cluster-id', cluster.metadata.name,
    '--cluster-store', storeUrlOf(cluster),
    '--cluster-token-file', '/etc/ballast/token/token',
    '--partitions', String(spec.partitions),
    '--durability', spec.durability,
  ];
  return {
    serviceAccountName: names.serviceAccount,
    terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
    // The image's user (packages/storage-node/Dockerfile: USER 1000:1000); fsGroup makes the volume writable.
    securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    ...(scheduling.nodeSelector === undefined ? {} : { nodeSelector: scheduling.nodeSelector }),
    ...(scheduling.tolerations === undefined ? {} : { tolerations: scheduling.tolerations }),
    ...(scheduling.affinity === undefined ? {} : { affinity: scheduling.affinity }),
    ...(scheduling.topologySpreadConstraints === undefined ? {} : { topologySpreadConstraints: scheduling.topologySpreadConstraints }),
    containers: [
      {
        name: 'node',
        image: spec.image ?? nodeImage,
        ...(spec.imagePullPolicy === undefined ? {} : { imagePullPolicy: spec.imagePullPolicy }),
        args,
        env,
        ports: [
          { name: 'redis', containerPort: REDIS_PORT },
          { name: 'peer', containerPort: PEER_PORT },
          { name: 'admin', containerPort: ADMIN_PORT },
        ],
        readinessProbe: { httpGet: { path: '/readyz', port: 'admin' }, periodSeconds: 2, failureThreshold: 2 },
        livenessProbe: { httpGet: { path: '/livez', port: 'admin' }, periodSeconds: 10, failureThreshold: 6 },
        ...(spec.resources === undefined ? {} : { resources: spec.resources }),
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        volumeMounts: [
          { name: 'data', mountPath: '/data' },
          { name: 'token', mountPath: '/etc/ballast/token', readOnly: true },
        ],
      },
    ],
    // Readable by the node's group only (the token authenticates peers and admin writes).
    volumes: [{ name: 'token', secret: { secretName: names.secret, defaultMode: 0o440 } }],
  };
}

export const MONITORING_GROUP = 'monitoring.coreos.com';
export const MONITORING_VERSION = 'v1';

/**
 * Target labels of every scraped member, the ones the operator's metrics and the alert rules use:
 * `cluster` (the KVCluster's name, from its pods' instance label) and `node` (the pod, which is the
 * node id). The Prometheus Operator adds `namespace` itself.
 */
const SCRAPE_RELABELINGS = [
  { sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_instance'], targetLabel: 'cluster' },
  { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'node' },
];

/** The member pods' admin port, `/metrics`. */
export function podMonitor(cluster: KVCluster): KubeObject {
  return {
    apiVersion: `${MONITORING_GROUP}/${MONITORING_VERSION}`,
    kind: 'PodMonitor',
    metadata: metadata(cluster, cluster.metadata.name),
    spec: { selector: { matchLabels: selectorOf(cluster) }, podMetricsEndpoints: [{ port: 'admin', path: '/metrics', relabelings: SCRAPE_RELABELINGS }] },
  };
}

/** The headless Service's admin port (every member, ready or not), `/metrics`. */
export function serviceMonitor(cluster: KVCluster): KubeObject {
  return {
    apiVersion: `${MONITORING_GROUP}/${MONITORING_VERSION}`,
    kind: 'ServiceMonitor',
    metadata: metadata(cluster, cluster.metadata.name),
    spec: { selector: { matchLabels: { ...selectorOf(cluster), [SERVICE_ROLE_LABEL]: 'nodes' } }, endpoints: [{ port: 'admin', path: '/metrics', relabelings: SCRAPE_RELABELINGS }] },
  };
}

export interface MonitoringKind {
  kind: 'PodMonitor' | 'ServiceMonitor';
  plural: 'podmonitors' | 'servicemonitors';
  /** Its toggle in spec.monitoring. */
  field: keyof NonNullable<KVClusterSpec['monitoring']>;
  build: (cluster: KVCluster) => KubeObject;
}

/** The Prometheus Operator objects a KVCluster may ask for, each named like the cluster. */
export const MONITORING_KINDS: readonly MonitoringKind[] = [
  { kind: 'PodMonitor', plural: 'podmonitors', field: 'podMonitor', build: podMonitor },
  { kind: 'ServiceMonitor', plural: 'servicemonitors', field: 'serviceMonitor', build: serviceMonitor },
];

/** The token Secret, created once when absent. */
export function tokenSecret(cluster: KVCluster, token: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: metadata(cluster, namesOf(cluster).secret), type: 'Opaque', data: { token: Buffer.from(token).toString('base64') } };
}
