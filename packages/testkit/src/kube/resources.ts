/**
 * The resource types the emulator serves, as data: built-in types from a table, custom resources
 * from CustomResourceDefinitions (or registered directly by a test). Adding a built-in type is one
 * row in BUILTIN_TYPES.
 */
import type { SchemaNode } from '../crd-schema.js';
import type { ResourceName } from './errors.js';

export interface ResourceType extends ResourceName {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly singular: string;
  readonly listKind: string;
  readonly namespaced: boolean;
  /** Has a `/status` subresource: writes to the main resource leave status alone and vice versa. */
  readonly statusSubresource: boolean;
  /**
   * Compiled into the API server rather than defined by a CRD. Custom resources differ as they do in
   * Kubernetes: their list items carry kind/apiVersion, PUT requires metadata.resourceVersion, and
   * strategic merge patch is refused.
   */
  readonly builtin: boolean;
  /** DELETE answers with the object (pods, custom resources) rather than a Success Status. */
  readonly returnsDeletedObject: boolean;
  readonly shortNames: readonly string[];
  /** Fields a fieldSelector may name besides metadata.name and metadata.namespace. */
  readonly selectableFields: readonly string[];
  /** A custom resource's openAPIV3Schema: objects are defaulted and validated against it. */
  readonly schema?: SchemaNode;
}

export function apiVersionOf(type: { group: string; version: string }): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** Storage identity shared by every version of a resource: `statefulsets.apps`, `configmaps`. */
export function groupResourceOf(type: { group: string; plural: string }): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

interface BuiltinRow {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced?: boolean;
  statusSubresource?: boolean;
  returnsDeletedObject?: boolean;
  shortNames?: string[];
  selectableFields?: string[];
}

const POD_FIELDS = [
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.schedulerName',
  'spec.serviceAccountName',
  'spec.hostNetwork',
  'status.phase',
  'status.podIP',
  'status.nominatedNodeName',
];

const EVENT_FIELDS = [
  'involvedObject.kind',
  'involvedObject.namespace',
  'involvedObject.name',
  'involvedObject.uid',
  'involvedObject.apiVersion',
  'involvedObject.resourceVersion',
  'involvedObject.fieldPath',
  'reason',
  'reportingComponent',
  'source',
  'type',
];

const EVENTS_V1_FIELDS = [
  'reason',
  'type',
  'reportingController',
  'regarding.kind',
  'regarding.name',
  'regarding.namespace',
  'regarding.uid',
];

const BUILTIN_TYPES: readonly BuiltinRow[] = [
  {
    group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace',
    namespaced: false, statusSubresource: true, shortNames: ['ns'], selectableFields: ['status.phase'],
  },
  {
    group: '', version: 'v1', plural: 'nodes', kind: 'Node',
    namespaced: false, statusSubresource: true, shortNames: ['no'], selectableFields: ['spec.unschedulable'],
  },
  {
    group: '', version: 'v1', plural: 'pods', kind: 'Pod',
    statusSubresource: true, returnsDeletedObject: true, shortNames: ['po'], selectableFields: POD_FIELDS,
  },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', statusSubresource: true, shortNames: ['svc'] },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', shortNames: ['cm'] },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', selectableFields: ['type'] },
  { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', shortNames: ['sa'] },
  { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', statusSubresource: true, shortNames: ['pvc'] },
  {
    group: '', version: 'v1', plural: 'persistentvolumes', kind: 'PersistentVolume',
    namespaced: false, statusSubresource: true, shortNames: ['pv'],
  },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', shortNames: ['ev'], selectableFields: EVENT_FIELDS },
  { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', statusSubresource: true, shortNames: ['sts'] },
  {
    group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget',
    statusSubresource: true, shortNames: ['pdb'],
  },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', kind: 'Role' },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding' },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false },
  { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', shortNames: ['ev'], selectableFields: EVENTS_V1_FIELDS },
  {
    group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition',
    namespaced: false, statusSubresource: true, shortNames: ['crd', 'crds'],
  },
];

function builtinType(row: BuiltinRow): ResourceType {
  return {
    group: row.group,
    version: row.version,
    plural: row.plural,
    singular: row.kind.toLowerCase(),
    kind: row.kind,
    listKind: `${row.kind}List`,
    namespaced: row.namespaced ?? true,
    statusSubresource: row.statusSubresource ?? false,
    builtin: true,
    returnsDeletedObject: row.returnsDeletedObject ?? false,
    shortNames: row.shortNames ?? [],
    selectableFields: row.selectableFields ?? [],
  };
}

/** What a test says to serve a custom resource without creating a CustomResourceDefinition. */
export interface CustomResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular?: string;
  listKind?: string;
  /** Default true. */
  namespaced?: boolean;
  statusSubresource?: boolean;
  shortNames?: string[];
  /** The version's openAPIV3Schema (defaulting and validation, as the API server does). */
  schema?: SchemaNode;
}

export function customResourceType(definition: CustomResourceType): ResourceType {
  return {
    group: definition.group,
    version: definition.version,
    plural: definition.plural,
    singular: definition.singular ?? definition.kind.toLowerCase(),
    kind: definition.kind,
    listKind: definition.listKind ?? `${definition.kind}List`,
    namespaced: definition.namespaced ?? true,
    statusSubresource: definition.statusSubresource ?? false,
    builtin: false,
    returnsDeletedObject: true,
    shortNames: definition.shortNames ?? [],
    selectableFields: [],
    ...(definition.schema === undefined ? {} : { schema: definition.schema }),
  };
}

/**
 * Types by group, version and plural. Invariant: all versions of one group resource agree on kind
 * and scope (they share storage).
 */
export class ResourceRegistry {
  private readonly types = new Map<string, ResourceType>();

  constructor() {
    for (const row of BUILTIN_TYPES) this.register(builtinType(row));
  }

  register(type: ResourceType): void {
    this.types.set(`${type.group}/${type.version}/${type.plural}`, type);
  }

  /** Stops serving every version of a group resource (its CRD was deleted). */
  unregister(group: string, plural: string): void {
    for (const [key, type] of this.types) {
      if (type.group === group && type.plural === plural) this.types.delete(key);
    }
  }

  find(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.get(`${group}/${version}/${plural}`);
  }

  /** For the in-process API: `kindOrResource` may be the kind, the plural or the singular name. */
  findByApiVersion(apiVersion: string, kindOrResource: string): ResourceType | undefined {
    return this.all().find(
      (type) =>
        apiVersionOf(type) === apiVersion &&
        (type.kind === kindOrResource || type.plural === kindOrResource || type.singular === kindOrResource),
    );
  }

  all(): ResourceType[] {
    return [...this.types.values()];
  }

  typesIn(group: string, version: string): ResourceType[] {
    return this.all().filter((type) => type.group === group && type.version === version);
  }

  servesGroupVersion(group: string, version: string): boolean {
    return this.typesIn(group, version).length > 0;
  }

  /** Groups with their versions, in registration order (first version is the preferred one). */
  groups(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const type of this.types.values()) {
      const versions = groups.get(type.group) ?? [];
      if (!versions.includes(type.version)) versions.push(type.version);
      groups.set(type.group, versions);
    }
    return groups;
  }
}
