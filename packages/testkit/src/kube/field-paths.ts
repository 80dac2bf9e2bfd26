/**
 * Field paths for managed fields (server-side apply), in the FieldsV1 token form: `f:<field>` for an
 * object field, `k:<key JSON>` for an item of a keyed list (merged by key, like containers by
 * name), `v:<value JSON>` for a member of a set list (like finalizers). Granularity is the leaf:
 * every scalar, atomic list and empty object is one path.
 *
 * Which lists are keyed or sets is decided by field name alone (the real API server reads the
 * OpenAPI schema); the table covers the lists an operator writes.
 */
import { isPlainObject, type JsonObject } from './json.js';

export type FieldPath = readonly string[];

export interface Leaf {
  path: FieldPath;
  value: unknown;
}

/** Leaves by pathKey(path). */
export type LeafMap = Map<string, Leaf>;

type ItemKey = (item: JsonObject) => JsonObject | undefined;

function stringField(field: string): ItemKey {
  return (item) => (typeof item[field] === 'string' ? { [field]: item[field] } : undefined);
}

/** Container ports are keyed by containerPort+protocol, service ports by port+protocol; protocol defaults to TCP. */
function portKey(item: JsonObject): JsonObject | undefined {
  const protocol = typeof item.protocol === 'string' ? item.protocol : 'TCP';
  if (typeof item.containerPort === 'number') return { containerPort: item.containerPort, protocol };
  if (typeof item.port === 'number') return { port: item.port, protocol };
  return undefined;
}

const KEYED_LISTS: Record<string, ItemKey> = {
  containers: stringField('name'),
  initContainers: stringField('name'),
  ephemeralContainers: stringField('name'),
  env: stringField('name'),
  volumes: stringField('name'),
  imagePullSecrets: stringField('name'),
  ports: portKey,
  volumeMounts: stringField('mountPath'),
  ownerReferences: stringField('uid'),
  conditions: stringField('type'),
};

const SET_LISTS = new Set(['finalizers']);

export type ListMode = 'keyed' | 'set' | 'atomic';

/** How a list under `field` merges: keyed only when every item has a distinct key, else atomic. */
export function listMode(field: string | undefined, items: readonly unknown[]): ListMode {
  if (field === undefined) return 'atomic';
  const keyOf = KEYED_LISTS[field];
  if (keyOf) {
    const tokens = items.map((item) => itemToken(field, item));
    const distinct = new Set(tokens);
    return tokens.every((token) => token !== undefined) && distinct.size === items.length ? 'keyed' : 'atomic';
  }
  if (SET_LISTS.has(field)) {
    const allScalars = items.every((item) => typeof item === 'string' || typeof item === 'number');
    return allScalars && new Set(items).size === items.length ? 'set' : 'atomic';
  }
  return 'atomic';
}

/** The `k:` token of an item of a keyed list, or undefined when the item has no key. */
export function itemToken(field: string, item: unknown): string | undefined {
  const keyOf = KEYED_LISTS[field];
  const key = keyOf && isPlainObject(item) ? keyOf(item) : undefined;
  return key ? `k:${JSON.stringify(key)}` : undefined;
}

/** Fields of `item` that make up its key (never removed on their own: the item goes as a whole). */
export function keyFields(field: string, item: JsonObject): string[] {
  const key = KEYED_LISTS[field]?.(item);
  return key ? Object.keys(key).filter((name) => Object.hasOwn(item, name)) : [];
}

export function setToken(value: unknown): string {
  return `v:${JSON.stringify(value)}`;
}

export function pathKey(path: FieldPath): string {
  return JSON.stringify(path);
}

/** `.spec.containers[name="db"].image`, the form the API server uses in conflict messages. */
export function formatPath(path: FieldPath): string {
  return path
    .map((token) => {
      const body = token.slice(2);
      if (token.startsWith('f:')) return `.${body}`;
      if (token.startsWith('v:')) return `[=${body}]`;
      const key = JSON.parse(body) as JsonObject;
      return `[${Object.entries(key).map(([name, value]) => `${name}=${JSON.stringify(value)}`).join(',')}]`;
    })
    .join('');
}

function collectLeaves(value: unknown, path: FieldPath, field: string | undefined, out: LeafMap): void {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [name, child] of Object.entries(value)) collectLeaves(child, [...path, `f:${name}`], name, out);
    return;
  }
  if (Array.isArray(value) && value.length > 0 && field !== undefined) {
    const mode = listMode(field, value);
    if (mode === 'keyed') {
      for (const item of value) {
        const token = itemToken(field, item);
        if (token) collectLeaves(item, [...path, token], undefined, out);
      }
      return;
    }
    if (mode === 'set') {
      for (const item of value) out.set(pathKey([...path, setToken(item)]), { path: [...path, setToken(item)], value: item });
      return;
    }
  }
  if (path.length > 0) out.set(pathKey(path), { path, value });
}

/** Which part of an object a write manages: everything, all but status, or status only. */
export type FieldScope = 'all' | 'main' | 'status';

/** Metadata the server sets; never managed, never taken from a client's apply. */
const SERVER_METADATA = new Set([
  'name',
  'namespace',
  'generateName',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
]);

/** The part of `object` that fields are managed in for `scope` (no apiVersion, kind or server metadata). */
export function managedContent(object: JsonObject, scope: FieldScope): JsonObject {
  if (scope === 'status') return object.status === undefined ? {} : { status: object.status };
  const content: JsonObject = {};
  for (const [field, value] of Object.entries(object)) {
    if (field === 'apiVersion' || field === 'kind' || (field === 'status' && scope === 'main')) continue;
    if (field === 'metadata' && isPlainObject(value)) {
      const metadata = Object.fromEntries(Object.entries(value).filter(([name]) => !SERVER_METADATA.has(name)));
      if (Object.keys(metadata).length > 0) content.metadata = metadata;
      continue;
    }
    content[field] = value;
  }
  return content;
}

export function leavesOf(object: JsonObject, scope: FieldScope): LeafMap {
  const leaves: LeafMap = new Map();
  collectLeaves(managedContent(object, scope), [], undefined, leaves);
  return leaves;
}

interface Step {
  container: unknown;
  token: string;
  /** Name of the field `container` is the value of (the list name for `k:`/`v:` tokens). */
  field: string | undefined;
}

function child(container: unknown, token: string, field: string | undefined): { found: boolean; value?: unknown } {
  if (token.startsWith('f:')) {
    const name = token.slice(2);
    return isPlainObject(container) && Object.hasOwn(container, name) ? { found: true, value: container[name] } : { found: false };
  }
  if (!Array.isArray(container)) return { found: false };
  const index = indexInList(container, token, field);
  return index >= 0 ? { found: true, value: container[index] } : { found: false };
}

function indexInList(list: readonly unknown[], token: string, field: string | undefined): number {
  if (token.startsWith('v:')) return list.findIndex((item) => setToken(item) === token);
  return field === undefined ? -1 : list.findIndex((item) => itemToken(field, item) === token);
}

/** Walks `path` from `root`; returns the steps taken, or undefined when the path does not exist. */
function walk(root: unknown, path: FieldPath): { steps: Step[]; value: unknown } | undefined {
  const steps: Step[] = [];
  let current = root;
  let field: string | undefined;
  for (const token of path) {
    const next = child(current, token, field);
    if (!next.found) return undefined;
    steps.push({ container: current, token, field });
    current = next.value;
    field = token.startsWith('f:') ? token.slice(2) : undefined;
  }
  return { steps, value: current };
}

export function valueAt(root: unknown, path: FieldPath): { found: boolean; value?: unknown } {
  const walked = walk(root, path);
  return walked ? { found: true, value: walked.value } : { found: false };
}

function removeChild(step: Step): void {
  if (step.token.startsWith('f:')) {
    if (isPlainObject(step.container)) delete step.container[step.token.slice(2)];
    return;
  }
  if (Array.isArray(step.container)) {
    const index = indexInList(step.container, step.token, step.field);
    if (index >= 0) step.container.splice(index, 1);
  }
}

/** A container left with nothing of its own: an empty object or list, or a list item with only its key. */
function isHollow(value: unknown, reachedBy: Step): boolean {
  if (Array.isArray(value)) return value.length === 0;
  if (!isPlainObject(value)) return false;
  const own = Object.keys(value);
  if (reachedBy.token.startsWith('k:') && reachedBy.field !== undefined) {
    const keys = keyFields(reachedBy.field, value);
    return own.every((name) => keys.includes(name));
  }
  return own.length === 0;
}

/**
 * Removes the leaf at `path` from `root` (mutating it), then every container the removal left
 * hollow, unless some still-owned path runs through it (`ownedPrefixes` holds pathKeys of every
 * prefix of every owned path). Key fields of list items are not removed alone.
 */
export function removeLeaf(root: JsonObject, path: FieldPath, ownedPrefixes: ReadonlySet<string>): void {
  const walked = walk(root, path);
  const last = walked?.steps.at(-1);
  if (!walked || !last) return;
  const parentStep = walked.steps.at(-2);
  const isItemKey =
    parentStep?.token.startsWith('k:') &&
    parentStep.field !== undefined &&
    isPlainObject(last.container) &&
    keyFields(parentStep.field, last.container).includes(last.token.slice(2));
  if (!isItemKey) removeChild(last);
  for (let depth = walked.steps.length - 2; depth >= 0; depth--) {
    const step = walked.steps[depth];
    const reached = walked.steps[depth + 1];
    if (!step || !reached) break;
    const prefix = pathKey(path.slice(0, depth + 1));
    if (ownedPrefixes.has(prefix) || !isHollow(reached.container, step)) break;
    removeChild(step);
  }
}

/** pathKeys of every proper and improper prefix of `paths`. */
export function prefixesOf(paths: Iterable<FieldPath>): Set<string> {
  const prefixes = new Set<string>();
  for (const path of paths) {
    for (let length = 1; length <= path.length; length++) prefixes.add(pathKey(path.slice(0, length)));
  }
  return prefixes;
}

export function toFieldsV1(paths: Iterable<FieldPath>): JsonObject {
  const root: JsonObject = {};
  for (const path of paths) {
    let node = root;
    for (const token of path) {
      const next = node[token];
      node = isPlainObject(next) ? next : (node[token] = {});
    }
  }
  return root;
}

export function fromFieldsV1(fields: unknown): FieldPath[] {
  const paths: FieldPath[] = [];
  const visit = (node: unknown, path: FieldPath): void => {
    const children = isPlainObject(node) ? Object.entries(node).filter(([token]) => token !== '.') : [];
    if (children.length === 0) {
      if (path.length > 0) paths.push(path);
      return;
    }
    for (const [token, next] of children) visit(next, [...path, token]);
  };
  visit(fields, []);
  return paths;
}
