/**
 * Discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/GROUP[/VERSION]`, `/version`), built from
 * the registry so that custom resources appear once their CRD exists. client-node's
 * KubernetesObjectApi reads APIResourceList to map a kind to its plural and scope.
 */
import type { JsonObject } from './json.js';
import { apiVersionOf, type ResourceRegistry, type ResourceType } from './resources.js';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const VERSION_INFO: JsonObject = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.0-ballast-emulator',
  platform: 'linux/amd64',
};

export function apiVersions(): JsonObject {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
}

function groupDocument(group: string, versions: readonly string[]): JsonObject {
  const entries = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { name: group, versions: entries, preferredVersion: entries[0] };
}

export function apiGroupList(registry: ResourceRegistry): JsonObject {
  const groups = [...registry.groups()].filter(([group]) => group !== '').map(([group, versions]) => groupDocument(group, versions));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function apiGroup(registry: ResourceRegistry, group: string): JsonObject | undefined {
  const versions = registry.groups().get(group);
  return versions && group !== '' ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(group, versions) } : undefined;
}

function resourceEntries(type: ResourceType): JsonObject[] {
  const main: JsonObject = {
    name: type.plural,
    singularName: type.singular,
    namespaced: type.namespaced,
    kind: type.kind,
    verbs: VERBS,
  };
  if (type.shortNames.length > 0) main.shortNames = type.shortNames;
  // The main resource comes first: clients look a kind up with find() and must not land on /status.
  if (!type.statusSubresource) return [main];
  const status = {
    name: `${type.plural}/status`,
    singularName: '',
    namespaced: type.namespaced,
    kind: type.kind,
    verbs: ['get', 'patch', 'update'],
  };
  return [main, status];
}

export function apiResourceList(registry: ResourceRegistry, group: string, version: string): JsonObject {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources: registry.typesIn(group, version).flatMap(resourceEntries),
  };
}
