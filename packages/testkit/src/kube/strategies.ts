/**
 * Per-type rules the API server applies beyond generic storage (its "strategies"): initial status
 * on create, name formats, and validation an operator can trip over (immutable StatefulSet and
 * PersistentVolumeClaim fields, CustomResourceDefinition naming). Keyed by group resource.
 */
import type { SchemaNode } from '../crd-schema.js';
import type { StatusCause } from './errors.js';
import { deepEqual, isPlainObject, type JsonObject } from './json.js';
import { customResourceType, groupResourceOf, type ResourceType } from './resources.js';

export interface Strategy {
  /** DNS-1123 label (namespaces, services) rather than the default DNS-1123 subdomain. */
  readonly labelName?: boolean;
  /** Status set on create; a status in the request is dropped for types with a status subresource. */
  initialStatus?(object: JsonObject, time: string): JsonObject;
  validateCreate?(object: JsonObject): StatusCause[];
  validateUpdate?(previous: JsonObject, next: JsonObject): StatusCause[];
}

function specOf(object: JsonObject): JsonObject {
  return isPlainObject(object.spec) ? object.spec : {};
}

function without(object: JsonObject, fields: readonly string[]): JsonObject {
  return Object.fromEntries(Object.entries(object).filter(([field]) => !fields.includes(field)));
}

const STATEFULSET_MUTABLE = [
  'replicas',
  'ordinals',
  'template',
  'updateStrategy',
  'persistentVolumeClaimRetentionPolicy',
  'minReadySeconds',
];

const statefulSets: Strategy = {
  validateUpdate(previous, next) {
    const fixed = (object: JsonObject): JsonObject => without(specOf(object), STATEFULSET_MUTABLE);
    if (deepEqual(fixed(previous), fixed(next))) return [];
    return [
      {
        reason: 'FieldValueForbidden',
        field: 'spec',
        message:
          "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', " +
          "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
      },
    ];
  },
};

const persistentVolumeClaims: Strategy = {
  validateUpdate(previous, next) {
    const comparable = (object: JsonObject): JsonObject => {
      const spec = without(specOf(object), ['volumeAttributesClassName']);
      const resources = isPlainObject(spec.resources) ? without(spec.resources, ['requests']) : spec.resources;
      return { ...spec, resources };
    };
    if (deepEqual(comparable(previous), comparable(next))) return [];
    return [
      {
        reason: 'FieldValueForbidden',
        field: 'spec',
        message: 'Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
      },
    ];
  },
};

function crdNames(crd: JsonObject): JsonObject {
  return isPlainObject(specOf(crd).names) ? (specOf(crd).names as JsonObject) : {};
}

function crdVersions(crd: JsonObject): JsonObject[] {
  const versions = specOf(crd).versions;
  return Array.isArray(versions) ? versions.filter(isPlainObject) : [];
}

const customResourceDefinitions: Strategy = {
  initialStatus(crd, time) {
    const condition = (type: string, reason: string, message: string): JsonObject => ({
      type,
      status: 'True',
      lastTransitionTime: time,
      reason,
      message,
    });
    return {
      conditions: [
        condition('NamesAccepted', 'NoConflicts', 'no conflicts found'),
        condition('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
      ],
      acceptedNames: crdNames(crd),
      storedVersions: crdVersions(crd)
        .filter((version) => version.storage === true)
        .map((version) => version.name),
    };
  },
  validateCreate(crd) {
    const spec = specOf(crd);
    const names = crdNames(crd);
    const causes: StatusCause[] = [];
    const name = isPlainObject(crd.metadata) ? crd.metadata.name : undefined;
    if (typeof spec.group !== 'string' || spec.group === '') causes.push({ field: 'spec.group', message: 'Required value' });
    if (typeof names.plural !== 'string' || names.plural === '') causes.push({ field: 'spec.names.plural', message: 'Required value' });
    if (typeof names.kind !== 'string' || names.kind === '') causes.push({ field: 'spec.names.kind', message: 'Required value' });
    if (name !== `${String(names.plural)}.${String(spec.group)}`) {
      causes.push({ field: 'metadata.name', message: `Invalid value: "${String(name)}": must be spec.names.plural+"."+spec.group` });
    }
    if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') {
      const message = `Unsupported value: "${String(spec.scope)}": supported values: "Cluster", "Namespaced"`;
      causes.push({ field: 'spec.scope', message });
    }
    const versions = crdVersions(crd);
    if (versions.filter((version) => version.storage === true).length !== 1) {
      causes.push({ field: 'spec.versions', message: 'Invalid value: must have exactly one version marked as storage version' });
    }
    if (versions.some((version) => typeof version.name !== 'string' || version.name === '')) {
      causes.push({ field: 'spec.versions[].name', message: 'Required value' });
    }
    return causes;
  },
  validateUpdate(previous, next) {
    const causes = customResourceDefinitions.validateCreate?.(next) ?? [];
    if (specOf(previous).scope !== specOf(next).scope) {
      causes.push({ field: 'spec.scope', message: `Invalid value: "${String(specOf(next).scope)}": field is immutable` });
    }
    return causes;
  },
};

const STRATEGIES: Record<string, Strategy> = {
  namespaces: { labelName: true, initialStatus: () => ({ phase: 'Active' }) },
  services: { labelName: true },
  pods: { initialStatus: () => ({ phase: 'Pending' }) },
  'statefulsets.apps': statefulSets,
  persistentvolumeclaims: persistentVolumeClaims,
  'customresourcedefinitions.apiextensions.k8s.io': customResourceDefinitions,
};

export function strategyFor(type: ResourceType): Strategy {
  return STRATEGIES[groupResourceOf(type)] ?? {};
}

export function isCustomResourceDefinition(type: ResourceType): boolean {
  return groupResourceOf(type) === 'customresourcedefinitions.apiextensions.k8s.io';
}

/** The types a (validated) CustomResourceDefinition serves: one per served version. */
export function typesFromDefinition(crd: JsonObject): ResourceType[] {
  const spec = specOf(crd);
  const names = crdNames(crd);
  return crdVersions(crd)
    .filter((version) => version.served !== false)
    .map((version) => {
      const subresources = isPlainObject(version.subresources) ? version.subresources : {};
      return customResourceType({
        group: String(spec.group),
        version: String(version.name),
        kind: String(names.kind),
        plural: String(names.plural),
        singular: typeof names.singular === 'string' ? names.singular : undefined,
        listKind: typeof names.listKind === 'string' ? names.listKind : undefined,
        namespaced: spec.scope === 'Namespaced',
        statusSubresource: isPlainObject(subresources.status),
        shortNames: Array.isArray(names.shortNames) ? names.shortNames.map(String) : undefined,
        schema: isPlainObject(version.schema) && isPlainObject(version.schema.openAPIV3Schema) ? (version.schema.openAPIV3Schema as SchemaNode) : undefined,
      });
    });
}
