// Proves that the Kubernetes API emulator behaves like the API server where an operator can tell,
// through the real @kubernetes/client-node 1.4 client (typed APIs, KubernetesObjectApi for
// server-side apply, Watch, ListWatch):
// - object lifecycle: server-set metadata, one global resourceVersion, generation on spec changes
//   only, optimistic concurrency (409 Conflict), AlreadyExists, Invalid, NotFound as Status bodies;
// - status subresources (a StatefulSet, and a custom resource served once its CRD is created);
// - merge, JSON and strategic merge patches; server-side apply with managed fields: create, update,
//   removal of fields the manager stopped applying, conflicts between managers, force;
// - garbage collection by ownerReferences (Background, Foreground, Orphan), finalizers, namespaces;
// - label/field selectors in lists and watches; watches from "" and from a resourceVersion,
//   410 Expired after compaction or overflow, bookmarks, timeouts; an informer (ListWatch, what
//   makeInformer builds) relisting after 410;
// - lease races, injected faults, and the in-process API sharing the same code paths.
import {
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  ListWatch,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubeConfig,
  type KubernetesObject,
  type V1ConfigMap,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeStatusError, startKubeEmulator, type KubeEmulator, type KubeWatchEvent } from '../src/index.js';

interface StatusBody {
  kind: string;
  apiVersion: string;
  status: string;
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; group?: string; kind?: string; causes?: { field?: string; message: string }[] };
}

interface WatchLine {
  type: string;
  object: { kind?: string; code?: number; reason?: string; message?: string; metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> } };
}

let kube: KubeEmulator;
let config: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let objects: KubernetesObjectApi;

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategicPatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

beforeEach(async () => {
  kube = await startKubeEmulator({ bookmarkIntervalMs: 50 });
  config = kube.kubeConfig();
  core = config.makeApiClient(CoreV1Api);
  apps = config.makeApiClient(AppsV1Api);
  objects = KubernetesObjectApi.makeApiClient(config);
});

afterEach(async () => {
  await kube.close();
});

/** The Status body of a request the emulator refused. */
async function refusal(request: Promise<unknown>): Promise<StatusBody> {
  const error: unknown = await request.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(ApiException);
  const exception = error as ApiException<unknown>;
  const body = (typeof exception.body === 'string' ? JSON.parse(exception.body) : exception.body) as StatusBody;
  expect(body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: exception.code });
  return body;
}

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Opens a client-node Watch and records its events until done. */
async function openWatch(path: string, params: Record<string, string | number | boolean | undefined>) {
  const events: WatchLine[] = [];
  let doneWith: unknown = 'open';
  const controller = await new Watch(config).watch(
    path,
    params,
    (type, object) => events.push({ type, object: object as WatchLine['object'] }),
    (error) => {
      doneWith = error;
    },
  );
  return { events, isDone: () => doneWith !== 'open', stop: () => controller.abort() };
}

async function createNamespace(name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
}

function configMap(name: string, data: Record<string, string> = {}, metadata: V1ConfigMap['metadata'] = {}): V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...metadata }, data };
}

function statefulSet(name: string, replicas: number): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, labels: { app: name } },
    spec: {
      serviceName: name,
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'node', image: 'ballast:1' }] } },
    },
  };
}

describe('object lifecycle', () => {
  it('creates, reads, lists and replaces with server-set metadata, one resourceVersion counter and optimistic concurrency', async () => {
    await createNamespace('app');
    const created = await core.createNamespacedConfigMap({ namespace: 'app', body: configMap('settings', { mode: 'fast' }) });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.generation).toBe(1);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.metadata?.resourceVersion).toBe(kube.resourceVersion);

    const read = await core.readNamespacedConfigMap({ name: 'settings', namespace: 'app' });
    expect(read.data).toEqual({ mode: 'fast' });
    expect(read.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);

    const duplicate = await refusal(core.createNamespacedConfigMap({ namespace: 'app', body: configMap('settings') }));
    expect(duplicate).toMatchObject({ code: 409, reason: 'AlreadyExists', message: 'configmaps "settings" already exists', details: { name: 'settings', kind: 'configmaps' } });

    const replaced = await core.replaceNamespacedConfigMap({ name: 'settings', namespace: 'app', body: { ...read, data: { mode: 'safe' } } });
    expect(replaced.data).toEqual({ mode: 'safe' });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion));
    expect(replaced.metadata?.uid).toBe(created.metadata?.uid);

    const stale = await refusal(core.replaceNamespacedConfigMap({ name: 'settings', namespace: 'app', body: { ...read, data: { mode: 'lost' } } }));
    expect(stale.code).toBe(409);
    expect(stale.reason).toBe('Conflict');
    expect(stale.message).toBe(
      'Operation cannot be fulfilled on configmaps "settings": the object has been modified; please apply your changes to the latest version and try again',
    );

    // A replace that changes nothing is not a write: no new resourceVersion.
    const unchanged = await core.replaceNamespacedConfigMap({ name: 'settings', namespace: 'app', body: replaced });
    expect(unchanged.metadata?.resourceVersion).toBe(replaced.metadata?.resourceVersion);

    const generated = await core.createNamespacedConfigMap({ namespace: 'app', body: { metadata: { generateName: 'run-' } } });
    expect(generated.metadata?.name).toMatch(/^run-[bcdfghjklmnpqrstvwxz2456789]{5}$/);

    const list = await core.listNamespacedConfigMap({ namespace: 'app' });
    expect(list.items.map((item) => item.metadata?.name)).toEqual([generated.metadata?.name, 'settings']);
    expect(list.metadata?.resourceVersion).toBe(kube.resourceVersion);

    const nameless = await refusal(core.createNamespacedConfigMap({ namespace: 'app', body: { data: {} } }));
    expect(nameless).toMatchObject({ code: 422, reason: 'Invalid', details: { causes: [{ field: 'metadata.name' }] } });
    const badName = await refusal(core.createNamespacedConfigMap({ namespace: 'app', body: configMap('Not_Valid') }));
    expect(badName.reason).toBe('Invalid');

    const missing = await refusal(core.readNamespacedConfigMap({ name: 'absent', namespace: 'app' }));
    expect(missing).toMatchObject({ code: 404, reason: 'NotFound', message: 'configmaps "absent" not found', details: { name: 'absent', kind: 'configmaps' } });
    const noNamespace = await refusal(core.createNamespacedConfigMap({ namespace: 'nowhere', body: configMap('x') }));
    expect(noNamespace).toMatchObject({ code: 404, message: 'namespaces "nowhere" not found' });
  });

  it('bumps generation on spec changes only, keeps status and spec writes apart, and enforces StatefulSet immutability', async () => {
    const created = await apps.createNamespacedStatefulSet({ namespace: 'default', body: { ...statefulSet('db', 3), status: { replicas: 9 } } });
    expect(created.metadata?.generation).toBe(1);
    expect(created.status?.replicas).toBeUndefined();

    const relabelled = await apps.patchNamespacedStatefulSet({ name: 'db', namespace: 'default', body: { metadata: { labels: { tier: 'data' } } } }, mergePatch);
    expect(relabelled.metadata?.generation).toBe(1);
    expect(Number(relabelled.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));

    const scaled = await apps.patchNamespacedStatefulSet({ name: 'db', namespace: 'default', body: { spec: { replicas: 5 } } }, mergePatch);
    expect(scaled.metadata?.generation).toBe(2);

    const withStatus = await apps.replaceNamespacedStatefulSetStatus({
      name: 'db',
      namespace: 'default',
      body: { ...scaled, spec: { ...scaled.spec!, replicas: 1 }, status: { replicas: 5, readyReplicas: 4, observedGeneration: 2 } },
    });
    expect(withStatus.status).toMatchObject({ replicas: 5, readyReplicas: 4, observedGeneration: 2 });
    expect(withStatus.spec?.replicas).toBe(5);
    expect(withStatus.metadata?.generation).toBe(2);

    // PUT on the main resource cannot change status.
    const mainPut = await apps.replaceNamespacedStatefulSet({ name: 'db', namespace: 'default', body: { ...withStatus, status: { replicas: 0 } } });
    expect(mainPut.status?.readyReplicas).toBe(4);

    const immutable = await refusal(
      apps.patchNamespacedStatefulSet({ name: 'db', namespace: 'default', body: { spec: { serviceName: 'other' } } }, mergePatch),
    );
    expect(immutable).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(immutable.message).toContain('updates to statefulset spec for fields other than');
  });

  it('serves a CRD-defined resource, with a status subresource isolated from spec writes, until the CRD is deleted', async () => {
    const extensions = config.makeApiClient(ApiextensionsV1Api);
    const custom = config.makeApiClient(CustomObjectsApi);
    const crd = await extensions.createCustomResourceDefinition({
      body: {
        metadata: { name: 'kvclusters.ballast.io' },
        spec: {
          group: 'ballast.io',
          scope: 'Namespaced',
          names: { plural: 'kvclusters', singular: 'kvcluster', kind: 'KVCluster', shortNames: ['kvc'] },
          versions: [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
        },
      },
    });
    expect(crd.status?.conditions?.find((condition) => condition.type === 'Established')?.status).toBe('True');

    const target = { group: 'ballast.io', version: 'v1alpha1', namespace: 'default', plural: 'kvclusters' };
    const created = await custom.createNamespacedCustomObject({
      ...target,
      body: { apiVersion: 'ballast.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'kv' }, spec: { nodes: 3 }, status: { phase: 'Ready' } },
    });
    expect(created.status).toBeUndefined();
    expect(created.metadata.generation).toBe(1);

    const specWrite = await custom.replaceNamespacedCustomObject({ ...target, name: 'kv', body: { ...created, spec: { nodes: 5 }, status: { phase: 'Hacked' } } });
    expect(specWrite.spec).toEqual({ nodes: 5 });
    expect(specWrite.status).toBeUndefined();
    expect(specWrite.metadata.generation).toBe(2);

    const statusWrite = await custom.replaceNamespacedCustomObjectStatus({
      ...target,
      name: 'kv',
      body: { ...specWrite, spec: { nodes: 1 }, status: { phase: 'Ready', observedGeneration: 2 } },
    });
    expect(statusWrite.status).toEqual({ phase: 'Ready', observedGeneration: 2 });
    expect(statusWrite.spec).toEqual({ nodes: 5 });
    expect(statusWrite.metadata.generation).toBe(2);

    // Custom resources, unlike built-in ones, refuse a PUT without metadata.resourceVersion.
    const unconditional = await refusal(
      custom.replaceNamespacedCustomObject({ ...target, name: 'kv', body: { apiVersion: 'ballast.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'kv' }, spec: {} } }),
    );
    expect(unconditional).toMatchObject({ code: 422, reason: 'Invalid' });

    const discovery = (await (await fetch(`${kube.url}/apis/ballast.io/v1alpha1`)).json()) as { resources: { name: string; namespaced: boolean; kind: string }[] };
    expect(discovery.resources).toContainEqual(expect.objectContaining({ name: 'kvclusters', namespaced: true, kind: 'KVCluster' }));
    expect(discovery.resources.map((resource) => resource.name)).toContain('kvclusters/status');

    await extensions.deleteCustomResourceDefinition({ name: 'kvclusters.ballast.io' });
    expect(() => kube.get('ballast.io/v1alpha1', 'KVCluster', 'default', 'kv')).toThrow(KubeStatusError);
    const gone = await refusal(custom.getNamespacedCustomObject({ ...target, name: 'kv' }));
    expect(gone.code).toBe(404);
  });

  it('serves cluster-scoped custom resources registered by a test', async () => {
    kube.registerCustomResource({ group: 'ballast.io', version: 'v1', kind: 'Baseline', plural: 'baselines', namespaced: false });
    const custom = config.makeApiClient(CustomObjectsApi);
    await custom.createClusterCustomObject({
      group: 'ballast.io',
      version: 'v1',
      plural: 'baselines',
      body: { apiVersion: 'ballast.io/v1', kind: 'Baseline', metadata: { name: 'main' }, nodes: ['a', 'b'] },
    });
    const list = await custom.listClusterCustomObject({ group: 'ballast.io', version: 'v1', plural: 'baselines' });
    expect(list.items).toEqual([expect.objectContaining({ kind: 'Baseline', nodes: ['a', 'b'], metadata: expect.not.objectContaining({ namespace: expect.anything() }) })]);
  });
});

describe('patches', () => {
  it('applies merge, JSON and strategic merge patches as the API server does', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('cm', { a: '1', b: '2' }, { labels: { keep: 'yes', drop: 'yes' } }) });
    const merged = await core.patchNamespacedConfigMap(
      { name: 'cm', namespace: 'default', body: { metadata: { labels: { drop: null, added: 'yes' } }, data: { b: null, c: '3' } } },
      mergePatch,
    );
    expect(merged.metadata?.labels).toEqual({ keep: 'yes', added: 'yes' });
    expect(merged.data).toEqual({ a: '1', c: '3' });

    // The typed client's default patch type is JSON patch.
    const jsonPatched = await core.patchNamespacedConfigMap({
      name: 'cm',
      namespace: 'default',
      body: [
        { op: 'test', path: '/data/a', value: '1' },
        { op: 'replace', path: '/data/a', value: '10' },
        { op: 'add', path: '/data/d~1e', value: '4' },
      ],
    });
    expect(jsonPatched.data).toEqual({ a: '10', c: '3', 'd/e': '4' });
    const failedTest = await refusal(core.patchNamespacedConfigMap({ name: 'cm', namespace: 'default', body: [{ op: 'test', path: '/data/a', value: 'no' }] }));
    expect(failedTest.code).toBe(422);

    await core.createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name: 'pod' }, spec: { containers: [{ name: 'node', image: 'ballast:1' }, { name: 'sidecar', image: 'proxy:1' }] } },
    });
    const strategic = await core.patchNamespacedPod(
      { name: 'pod', namespace: 'default', body: { spec: { containers: [{ name: 'node', image: 'ballast:2' }] } } },
      strategicPatch,
    );
    expect(strategic.spec?.containers.map((container) => `${container.name}=${container.image}`)).toEqual(['node=ballast:2', 'sidecar=proxy:1']);
    const mergeReplacesList = await core.patchNamespacedPod(
      { name: 'pod', namespace: 'default', body: { spec: { containers: [{ name: 'node', image: 'ballast:3' }] } } },
      mergePatch,
    );
    expect(mergeReplacesList.spec?.containers.map((container) => container.name)).toEqual(['node']);
  });
});

describe('server-side apply', () => {
  const applyAs = (manager: string, object: KubernetesObject, force?: boolean) =>
    objects.patch(object, undefined, undefined, manager, force, PatchStrategy.ServerSideApply);

  it('creates on apply, updates, and removes the fields a manager stops applying but not fields others own', async () => {
    const created = await applyAs('operator', configMap('cm', { a: '1', b: '2' }, { labels: { owner: 'operator' } }));
    expect(created.metadata?.managedFields).toEqual([expect.objectContaining({ manager: 'operator', operation: 'Apply', fieldsType: 'FieldsV1' })]);
    expect((created as V1ConfigMap).data).toEqual({ a: '1', b: '2' });

    await core.patchNamespacedConfigMap({ name: 'cm', namespace: 'default', body: { data: { c: '3' } }, fieldManager: 'human' }, mergePatch);
    const reapplied = (await applyAs('operator', configMap('cm', { a: '10' }))) as V1ConfigMap;
    expect(reapplied.data).toEqual({ a: '10', c: '3' });
    expect(reapplied.metadata?.labels).toBeUndefined();
    const managers = reapplied.metadata?.managedFields?.map((entry) => `${entry.manager}/${entry.operation}`);
    expect(managers).toEqual(['operator/Apply', 'human/Update']);

    // Reapplying the same configuration is not a write.
    const again = await applyAs('operator', configMap('cm', { a: '10' }));
    expect(again.metadata?.resourceVersion).toBe(reapplied.metadata?.resourceVersion);

    const noManager = await refusal(objects.patch(configMap('cm'), undefined, undefined, undefined, undefined, PatchStrategy.ServerSideApply));
    expect(noManager.code).toBe(400);
  });

  it('answers 409 when another manager owns a field with a different value, and moves ownership on force', async () => {
    await applyAs('operator', configMap('cm', { mode: 'fast' }));
    // Applying the same value shares ownership without conflict.
    await applyAs('admin', configMap('cm', { mode: 'fast' }));
    const conflict = await refusal(applyAs('admin', configMap('cm', { mode: 'slow' })));
    expect(conflict).toMatchObject({ code: 409, reason: 'Conflict', message: 'Apply failed with 1 conflict: conflict with "operator": .data.mode' });
    expect(conflict.details?.causes).toEqual([expect.objectContaining({ field: '.data.mode' })]);

    const forced = (await applyAs('admin', configMap('cm', { mode: 'slow' }), true)) as V1ConfigMap;
    expect(forced.data).toEqual({ mode: 'slow' });
    const operatorEntry = forced.metadata?.managedFields?.find((entry) => entry.manager === 'operator');
    expect(operatorEntry).toBeUndefined();

    const back = await refusal(applyAs('operator', configMap('cm', { mode: 'fast' })));
    expect(back.message).toBe('Apply failed with 1 conflict: conflict with "admin": .data.mode');
  });

  it('merges keyed lists by key between managers (containers by name) and keeps each manager to its own items', async () => {
    await applyAs('operator', statefulSet('db', 3));
    const sidecar: V1StatefulSet = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db' }, spec: { template: { spec: { containers: [{ name: 'exporter', image: 'exporter:1' }] } } } as V1StatefulSet['spec'] };
    const both = (await applyAs('monitoring', sidecar)) as V1StatefulSet;
    expect(both.spec?.template.spec?.containers.map((container) => container.name)).toEqual(['node', 'exporter']);

    const upgraded = statefulSet('db', 3);
    upgraded.spec!.template.spec!.containers[0]!.image = 'ballast:2';
    const after = (await applyAs('operator', upgraded)) as V1StatefulSet;
    expect(after.spec?.template.spec?.containers.map((container) => `${container.name}=${container.image}`)).toEqual(['node=ballast:2', 'exporter=exporter:1']);
    expect(after.metadata?.generation).toBe(3);
  });
});

describe('deletion', () => {
  const ownedBy = (owner: V1ConfigMap) => [{ apiVersion: 'v1', kind: 'ConfigMap', name: owner.metadata!.name!, uid: owner.metadata!.uid! }];

  it('deletes dependents with their owner (Background and Foreground, transitively) and keeps them without the reference on Orphan', async () => {
    for (const policy of ['Background', 'Foreground'] as const) {
      const owner = await core.createNamespacedConfigMap({ namespace: 'default', body: configMap(`owner-${policy.toLowerCase()}`) });
      const child = await core.createNamespacedConfigMap({ namespace: 'default', body: configMap(`child-${policy.toLowerCase()}`, {}, { ownerReferences: ownedBy(owner) }) });
      await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: `grandchild-${policy.toLowerCase()}`, ownerReferences: ownedBy(child) } } });
      await core.deleteNamespacedConfigMap({ name: owner.metadata!.name!, namespace: 'default', propagationPolicy: policy });
      expect(kube.list('v1', 'ConfigMap', 'default').map((item) => item.metadata.name)).toEqual([]);
      expect(kube.list('v1', 'Secret', 'default')).toEqual([]);
    }

    const owner = await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('owner') });
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'kept', ownerReferences: ownedBy(owner) } } });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: 'default', body: { propagationPolicy: 'Orphan' } });
    const orphan = await core.readNamespacedSecret({ name: 'kept', namespace: 'default' });
    expect(orphan.metadata?.ownerReferences).toBeUndefined();
  });

  it('holds an object with finalizers until they are removed, and checks delete preconditions', async () => {
    const created = await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('held', {}, { finalizers: ['ballast.io/cleanup'] }) });
    const wrongVersion = await refusal(
      core.deleteNamespacedConfigMap({ name: 'held', namespace: 'default', body: { preconditions: { resourceVersion: '1' } } }),
    );
    expect(wrongVersion).toMatchObject({ code: 409, reason: 'Conflict' });
    expect(wrongVersion.message).toContain('Precondition failed');

    await core.deleteNamespacedConfigMap({ name: 'held', namespace: 'default', body: { preconditions: { uid: created.metadata!.uid! } } });
    const terminating = await core.readNamespacedConfigMap({ name: 'held', namespace: 'default' });
    expect(terminating.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    const addFinalizer = await refusal(
      core.patchNamespacedConfigMap({ name: 'held', namespace: 'default', body: { metadata: { finalizers: ['ballast.io/cleanup', 'other'] } } }, mergePatch),
    );
    expect(addFinalizer.code).toBe(422);

    await core.patchNamespacedConfigMap({ name: 'held', namespace: 'default', body: { metadata: { finalizers: null } } }, mergePatch);
    expect((await refusal(core.readNamespacedConfigMap({ name: 'held', namespace: 'default' }))).code).toBe(404);
  });

  it('deletes everything in a deleted namespace and refuses new content while it terminates', async () => {
    await createNamespace('doomed');
    await core.createNamespacedConfigMap({ namespace: 'doomed', body: configMap('plain') });
    await core.createNamespacedConfigMap({ namespace: 'doomed', body: configMap('held', {}, { finalizers: ['ballast.io/cleanup'] }) });
    await core.createNamespacedSecret({ namespace: 'doomed', body: { metadata: { name: 'secret' } } });

    await core.deleteNamespace({ name: 'doomed' });
    const terminating = await core.readNamespace({ name: 'doomed' });
    expect(terminating.status?.phase).toBe('Terminating');
    expect(kube.list('v1', 'ConfigMap', 'doomed').map((item) => item.metadata.name)).toEqual(['held']);
    expect(kube.list('v1', 'Secret', 'doomed')).toEqual([]);
    const refused = await refusal(core.createNamespacedConfigMap({ namespace: 'doomed', body: configMap('late') }));
    expect(refused).toMatchObject({ code: 403, reason: 'Forbidden' });

    await core.patchNamespacedConfigMap({ name: 'held', namespace: 'doomed', body: { metadata: { finalizers: [] } } }, mergePatch);
    expect((await refusal(core.readNamespace({ name: 'doomed' }))).code).toBe(404);
  });
});

describe('selectors and pagination', () => {
  it('filters lists by label and field selectors and pages with limit and continue', async () => {
    const labelled = [
      ['db-0', { app: 'db', tier: 'a' }],
      ['db-1', { app: 'db', tier: 'b' }],
      ['web', { app: 'web', tier: 'c' }],
      ['bare', {}],
    ] as const;
    for (const [name, labels] of labelled) await core.createNamespacedConfigMap({ namespace: 'default', body: configMap(name, {}, { labels: { ...labels } }) });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core.listNamespacedConfigMap({ namespace: 'default', labelSelector, fieldSelector })).items.map((item) => item.metadata?.name);

    expect(await names('app=db')).toEqual(['db-0', 'db-1']);
    expect(await names('app!=db')).toEqual(['bare', 'web']);
    expect(await names('tier in (a,c)')).toEqual(['db-0', 'web']);
    expect(await names('tier notin (a),app')).toEqual(['db-1', 'web']);
    expect(await names('!app')).toEqual(['bare']);
    expect(await names('app==db,tier=b')).toEqual(['db-1']);
    expect(await names(undefined, 'metadata.name=web')).toEqual(['web']);
    expect(await names(undefined, 'metadata.name!=web,metadata.namespace=default')).toEqual(['bare', 'db-0', 'db-1']);
    expect((await refusal(core.listNamespacedConfigMap({ namespace: 'default', fieldSelector: 'data.x=1' }))).code).toBe(400);
    expect((await refusal(core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'app in db' }))).code).toBe(400);

    const first = await core.listNamespacedConfigMap({ namespace: 'default', limit: 3 });
    expect(first.items.map((item) => item.metadata?.name)).toEqual(['bare', 'db-0', 'db-1']);
    expect(first.metadata?.remainingItemCount).toBe(1);
    const second = await core.listNamespacedConfigMap({ namespace: 'default', limit: 3, _continue: first.metadata?._continue });
    expect(second.items.map((item) => item.metadata?.name)).toEqual(['web']);
    expect(second.metadata?._continue).toBeUndefined();
  });
});

describe('watch', () => {
  it('from "" sends every current object as ADDED, then live events; selectors turn relabels into DELETED and ADDED', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('one', {}, { labels: { app: 'db' } }) });
    await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('two', {}, { labels: { app: 'db' } }) });
    const all = await openWatch('/api/v1/namespaces/default/configmaps', {});
    const selected = await openWatch('/api/v1/namespaces/default/configmaps', { labelSelector: 'app=db' });
    await waitFor(() => all.events.length === 2 && selected.events.length === 2);
    expect(all.events.map((event) => `${event.type} ${event.object.metadata?.name}`)).toEqual(['ADDED one', 'ADDED two']);

    await core.patchNamespacedConfigMap({ name: 'one', namespace: 'default', body: { metadata: { labels: { app: 'web' } } } }, mergePatch);
    await core.patchNamespacedConfigMap({ name: 'one', namespace: 'default', body: { metadata: { labels: { app: 'db' } } } }, mergePatch);
    await core.deleteNamespacedConfigMap({ name: 'two', namespace: 'default' });
    await waitFor(() => all.events.length === 5 && selected.events.length === 5);
    expect(all.events.slice(2).map((event) => `${event.type} ${event.object.metadata?.name}`)).toEqual(['MODIFIED one', 'MODIFIED one', 'DELETED two']);
    expect(selected.events.slice(2).map((event) => `${event.type} ${event.object.metadata?.name}`)).toEqual(['DELETED one', 'ADDED one', 'DELETED two']);
    // The DELETED event of an object leaving the selector carries the resourceVersion of that write.
    expect(selected.events[2]?.object.metadata?.resourceVersion).toBe(all.events[2]?.object.metadata?.resourceVersion);
    all.stop();
    selected.stop();
  });

  it('resumes after a resourceVersion with every later event in order', async () => {
    const first = await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('a') });
    const from = first.metadata!.resourceVersion!;
    await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('b') });
    await core.patchNamespacedConfigMap({ name: 'a', namespace: 'default', body: { data: { x: '1' } } }, mergePatch);
    await core.deleteNamespacedConfigMap({ name: 'b', namespace: 'default' });
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'not-a-configmap' } } });

    const resumed = await openWatch('/api/v1/namespaces/default/configmaps', { resourceVersion: from });
    await waitFor(() => resumed.events.length === 3);
    expect(resumed.events.map((event) => `${event.type} ${event.object.metadata?.name}`)).toEqual(['ADDED b', 'MODIFIED a', 'DELETED b']);
    const versions = resumed.events.map((event) => Number(event.object.metadata?.resourceVersion));
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    resumed.stop();
  });

  it('answers a resourceVersion older than the kept history with an ERROR 410 Expired event and closes the stream', async () => {
    const early = await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('a') });
    await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('b') });
    kube.compact();
    const expired = await openWatch('/api/v1/namespaces/default/configmaps', { resourceVersion: early.metadata!.resourceVersion });
    await waitFor(() => expired.isDone());
    expect(expired.events).toEqual([
      { type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired', message: expect.stringMatching(/^too old resource version: \d+ \(\d+\)$/) }) },
    ]);
    // From the compaction point on, history is kept again.
    const current = await openWatch('/api/v1/namespaces/default/configmaps', { resourceVersion: kube.resourceVersion });
    await core.deleteNamespacedConfigMap({ name: 'a', namespace: 'default' });
    await waitFor(() => current.events.length === 1);
    expect(current.events[0]?.type).toBe('DELETED');
    current.stop();

    // Overflow of a small cache loses history the same way.
    const small = await startKubeEmulator({ watchCacheSize: 2 });
    try {
      const smallCore = small.kubeConfig().makeApiClient(CoreV1Api);
      const before = small.resourceVersion;
      for (const name of ['x', 'y', 'z']) await smallCore.createNamespacedConfigMap({ namespace: 'default', body: configMap(name) });
      const thrown = (() => {
        try {
          small.watchInProcess({ apiVersion: 'v1', kind: 'ConfigMap', resourceVersion: before }, () => undefined);
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(thrown).toBeInstanceOf(KubeStatusError);
      expect(thrown).toMatchObject({ code: 410, reason: 'Expired' });
    } finally {
      await small.close();
    }
  });

  it('sends BOOKMARK events with the current resourceVersion, and ends the stream after timeoutSeconds', async () => {
    const watch = await openWatch('/api/v1/namespaces/default/configmaps', { allowWatchBookmarks: true, timeoutSeconds: 1 });
    await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('a') });
    await waitFor(() => watch.events.some((event) => event.type === 'BOOKMARK' && event.object.metadata?.resourceVersion === kube.resourceVersion));
    const bookmark = watch.events.find((event) => event.type === 'BOOKMARK');
    expect(bookmark?.object).toEqual({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: expect.any(String) } });
    await waitFor(() => watch.isDone(), 3_000);
  });

  it('keeps an informer cache right across a cut watch whose history was compacted (410, relist)', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('a') });
    const informer = new ListWatch('/api/v1/namespaces/default/configmaps', new Watch(config), () => core.listNamespacedConfigMap({ namespace: 'default' }), false);
    const deleted: string[] = [];
    let connects = 0;
    informer.on('delete', (object) => deleted.push(object.metadata?.name ?? ''));
    informer.on('connect', () => connects++);
    await informer.start();
    await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('b') });
    await waitFor(() => informer.list('default').length === 2);

    // Fault: the API server restarts while writes happen and it forgets the history the informer would resume from.
    // Invariant: the informer relists and its cache equals the server's state, deletions included.
    kube.closeWatches();
    kube.delete('v1', 'ConfigMap', 'default', 'a');
    kube.create(configMap('c', {}, { namespace: 'default' }));
    kube.compact();
    await waitFor(() => informer.list('default').map((object) => object.metadata?.name).sort().join() === 'b,c');
    expect(deleted).toEqual(['a']);
    expect(connects).toBeGreaterThanOrEqual(3);
    await waitFor(() => informer.latestResourceVersion() === kube.resourceVersion);
    await informer.stop();
  });
});

describe('leases, faults and errors', () => {
  it('lets exactly one of two candidates racing to replace a lease win', async () => {
    const coordination = config.makeApiClient(CoordinationV1Api);
    const rival = kube.kubeConfig().makeApiClient(CoordinationV1Api);
    await coordination.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'none', leaseDurationSeconds: 15 } } });
    const seen = await coordination.readNamespacedLease({ name: 'leader', namespace: 'default' });
    const claim = (api: CoordinationV1Api, holder: string) =>
      api.replaceNamespacedLease({ name: 'leader', namespace: 'default', body: { ...seen, spec: { ...seen.spec, holderIdentity: holder, acquireTime: new Date() } } });
    const results = await Promise.allSettled([claim(coordination, 'candidate-a'), claim(rival, 'candidate-b')]);
    const won = results.filter((result) => result.status === 'fulfilled');
    const lost = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0]?.reason as ApiException<unknown>).code).toBe(409);
    const holder = (await coordination.readNamespacedLease({ name: 'leader', namespace: 'default' })).spec?.holderIdentity;
    expect(holder).toBe((won[0] as PromiseFulfilledResult<{ spec?: { holderIdentity?: string } }>).value.spec?.holderIdentity);
  });

  it('injects faults that do not take effect, and answers unknown paths and malformed bodies with Status errors', async () => {
    kube.failNext({ method: 'POST', pathRegex: /\/configmaps/, status: 500, times: 2 });
    for (let attempt = 0; attempt < 2; attempt++) {
      const failed = await refusal(core.createNamespacedConfigMap({ namespace: 'default', body: configMap('flaky') }));
      expect(failed).toMatchObject({ code: 500, reason: 'InternalError' });
    }
    expect(kube.get('v1', 'ConfigMap', 'default', 'flaky')).toBeUndefined();
    await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('flaky') });
    expect(kube.get('v1', 'ConfigMap', 'default', 'flaky')?.metadata.name).toBe('flaky');

    const unknown = await fetch(`${kube.url}/apis/nothing.example/v1/things`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404, message: 'the server could not find the requested resource' });

    const malformed = await fetch(`${kube.url}/api/v1/namespaces/default/configmaps`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"metadata":' });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400 });

    const badPatchType = await fetch(`${kube.url}/api/v1/namespaces/default/configmaps/flaky`, { method: 'PATCH', headers: { 'Content-Type': 'text/plain' }, body: 'x' });
    expect(badPatchType.status).toBe(415);

    const discovery = (await (await fetch(`${kube.url}/apis/apps/v1`)).json()) as { resources: { name: string }[] };
    expect(discovery.resources.map((resource) => resource.name)).toEqual(['statefulsets', 'statefulsets/status']);
  });
});

describe('in-process API', () => {
  it('shares the store with HTTP clients: same versions, conflicts and watch events; callbacks may write back', async () => {
    const events: KubeWatchEvent[] = [];
    // A tiny "kubelet": every new pod becomes Running.
    const kubelet = kube.watchInProcess({ apiVersion: 'v1', kind: 'pods', namespace: 'default' }, (event) => {
      events.push(event);
      if (event.type === 'ADDED') {
        kube.patch('v1', 'Pod', 'default', event.object.metadata.name, { status: { phase: 'Running' } }, { type: 'merge', subresource: 'status', fieldManager: 'kubelet' });
      }
    });
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'node-0' }, spec: { containers: [{ name: 'node', image: 'ballast:1' }] } } });
    await waitFor(() => events.length === 2);
    expect(events.map((event) => `${event.type} ${String((event.object.status as { phase?: string }).phase)}`)).toEqual(['ADDED Pending', 'MODIFIED Running']);
    const pod = await core.readNamespacedPod({ name: 'node-0', namespace: 'default' });
    expect(pod.status?.phase).toBe('Running');
    expect(pod.metadata?.resourceVersion).toBe(kube.resourceVersion);
    kubelet.stop();

    const created = kube.create(configMap('local', { a: '1' }, { namespace: 'default' }));
    kube.update({ ...created, data: { a: '2' } });
    expect(() => kube.update({ ...created, data: { a: '3' } })).toThrow(expect.objectContaining({ code: 409, reason: 'Conflict' }));
    const applied = kube.apply(configMap('local', { b: '1' }, { namespace: 'default' }), { fieldManager: 'test' });
    expect(applied.data).toEqual({ a: '2', b: '1' });
    expect((await core.readNamespacedConfigMap({ name: 'local', namespace: 'default' })).data).toEqual({ a: '2', b: '1' });
  });
});
