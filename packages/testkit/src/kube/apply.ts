/**
 * Managed fields and server-side apply. Each object's `metadata.managedFields` records, per field
 * manager (manager name + operation + subresource), the leaf field paths it owns (field-paths.ts).
 *
 * - A non-apply write (create, update, patch) gives its manager every leaf it changed and takes
 *   them from everyone else.
 * - An apply sets the applied leaves; leaves the same manager applied before and omits now are
 *   removed unless another manager also owns them; an applied leaf owned by another manager with a
 *   different value is a conflict (409) unless forced, when ownership moves to the applier.
 */
import { kubeErrors, type StatusCause } from './errors.js';
import {
  formatPath,
  fromFieldsV1,
  itemToken,
  leavesOf,
  listMode,
  managedContent,
  pathKey,
  prefixesOf,
  removeLeaf,
  toFieldsV1,
  valueAt,
  type FieldPath,
  type FieldScope,
  type LeafMap,
} from './field-paths.js';
import { clone, deepEqual, isPlainObject, type JsonObject } from './json.js';
import { kubeLimits } from './limits.js';

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
  subresource?: string;
}

export interface WriteContext {
  manager: string;
  /** '' for the main resource. */
  subresource: '' | 'status';
  scope: FieldScope;
  apiVersion: string;
  /** RFC 3339 time recorded on entries this write changes. */
  time: string;
}

interface FieldOwner {
  manager: string;
  operation: 'Apply' | 'Update';
  subresource: string;
  apiVersion: string;
  time: string;
  paths: Map<string, FieldPath>;
}

function readOwners(object: JsonObject | undefined): FieldOwner[] {
  const metadata = isPlainObject(object?.metadata) ? object.metadata : {};
  const entries = Array.isArray(metadata.managedFields) ? metadata.managedFields : [];
  return entries.filter(isPlainObject).map((entry) => ({
    manager: String(entry.manager ?? ''),
    operation: entry.operation === 'Apply' ? 'Apply' : 'Update',
    subresource: typeof entry.subresource === 'string' ? entry.subresource : '',
    apiVersion: String(entry.apiVersion ?? ''),
    time: String(entry.time ?? ''),
    paths: new Map(fromFieldsV1(entry.fieldsV1).map((path) => [pathKey(path), path])),
  }));
}

function ownerFor(owners: FieldOwner[], operation: 'Apply' | 'Update', context: WriteContext): FieldOwner {
  const found = owners.find(
    (owner) => owner.manager === context.manager && owner.operation === operation && owner.subresource === context.subresource,
  );
  if (found) return found;
  const created: FieldOwner = {
    manager: context.manager,
    operation,
    subresource: context.subresource,
    apiVersion: context.apiVersion,
    time: context.time,
    paths: new Map(),
  };
  owners.push(created);
  return created;
}

/** Keeps the newest Update owners; older ones merge into one, as the API server's `ancient-changes`. */
function boundUpdateOwners(owners: FieldOwner[]): FieldOwner[] {
  const updates = owners.filter((owner) => owner.operation === 'Update');
  if (updates.length <= kubeLimits.updateManagersMax) return owners;
  const oldestFirst = [...updates].sort((a, b) => a.time.localeCompare(b.time));
  const merged = oldestFirst.slice(0, updates.length - kubeLimits.updateManagersMax + 1);
  const newestMerged = merged[merged.length - 1];
  const ancient: FieldOwner = {
    manager: 'ancient-changes',
    operation: 'Update',
    subresource: '',
    apiVersion: newestMerged?.apiVersion ?? '',
    time: newestMerged?.time ?? '',
    paths: new Map(),
  };
  for (const owner of merged) for (const [key, path] of owner.paths) ancient.paths.set(key, path);
  return [...owners.filter((owner) => !merged.includes(owner)), ancient];
}

/** Drops ownership of paths the object no longer has, and owners left with nothing. */
function finishOwners(owners: FieldOwner[], object: JsonObject): ManagedFieldsEntry[] {
  const present = leavesOf(object, 'all');
  for (const owner of owners) {
    for (const key of owner.paths.keys()) if (!present.has(key)) owner.paths.delete(key);
  }
  return boundUpdateOwners(owners.filter((owner) => owner.paths.size > 0)).map((owner) => {
    const entry: ManagedFieldsEntry = {
      manager: owner.manager,
      operation: owner.operation,
      apiVersion: owner.apiVersion,
      time: owner.time,
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(owner.paths.values()),
    };
    if (owner.subresource) entry.subresource = owner.subresource;
    return entry;
  });
}

/** Managed fields after a create, update or patch (`before` undefined for a create). */
export function managedFieldsAfterUpdate(
  before: JsonObject | undefined,
  after: JsonObject,
  context: WriteContext,
): ManagedFieldsEntry[] {
  const owners = readOwners(before);
  const beforeLeaves: LeafMap = before ? leavesOf(before, context.scope) : new Map();
  const changed = [...leavesOf(after, context.scope)].filter(([key, leaf]) => {
    const previous = beforeLeaves.get(key);
    return previous === undefined || !deepEqual(previous.value, leaf.value);
  });
  if (changed.length > 0) {
    const writer = ownerFor(owners, 'Update', context);
    for (const owner of owners) {
      if (owner !== writer) for (const [key] of changed) owner.paths.delete(key);
    }
    for (const [key, leaf] of changed) writer.paths.set(key, leaf.path);
    writer.time = context.time;
    writer.apiVersion = context.apiVersion;
  }
  return finishOwners(owners, after);
}

interface Conflict {
  owner: FieldOwner;
  key: string;
  path: FieldPath;
}

function findConflicts(live: JsonObject, applied: LeafMap, others: FieldOwner[]): Conflict[] {
  const conflicts: Conflict[] = [];
  for (const [key, leaf] of applied) {
    const current = valueAt(live, leaf.path);
    if (current.found && deepEqual(current.value, leaf.value)) continue;
    // A scalar applied over an object also overwrites whatever others own inside that object.
    const replacesContainer = current.found && (isPlainObject(current.value) || Array.isArray(current.value));
    for (const owner of others) {
      if (owner.paths.has(key)) conflicts.push({ owner, key, path: leaf.path });
      if (!replacesContainer) continue;
      for (const [ownedKey, owned] of owner.paths) {
        const inside = owned.length > leaf.path.length && leaf.path.every((token, index) => owned[index] === token);
        if (inside) conflicts.push({ owner, key: ownedKey, path: owned });
      }
    }
  }
  return conflicts;
}

function describeOwner(owner: FieldOwner): string {
  const using = owner.operation === 'Update' ? ` using ${owner.apiVersion}` : '';
  const subresource = owner.subresource ? ` with subresource "${owner.subresource}"` : '';
  return `"${owner.manager}"${using}${subresource}`;
}

/** The 409 the API server answers, e.g. `Apply failed with 1 conflict: conflict with "a": .spec.replicas`. */
function conflictError(conflicts: Conflict[]) {
  const causes: StatusCause[] = conflicts.map((conflict) => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${describeOwner(conflict.owner)}`,
    field: formatPath(conflict.path),
  }));
  const first = conflicts[0];
  if (conflicts.length === 1 && first) {
    return kubeErrors.applyConflict(
      `Apply failed with 1 conflict: conflict with ${describeOwner(first.owner)}: ${formatPath(first.path)}`,
      causes,
    );
  }
  const owners = [...new Set(conflicts.map((conflict) => conflict.owner))];
  const sections = owners.map((owner) => {
    const paths = conflicts.filter((conflict) => conflict.owner === owner).map((conflict) => `- ${formatPath(conflict.path)}`);
    return `conflicts with ${describeOwner(owner)}:\n${paths.join('\n')}`;
  });
  return kubeErrors.applyConflict(`Apply failed with ${conflicts.length} conflicts: ${sections.join('\n')}`, causes);
}

/** Explicit nulls in an applied configuration mean "not set by me", so the field can be removed. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, child]) => child !== null)
      .map(([name, child]) => [name, withoutNulls(child)]),
  );
}

/** Merges an applied configuration into the live object: keyed lists by key, set lists as sets, the rest replaced. */
function mergeApplied(live: unknown, applied: unknown, field: string | undefined): unknown {
  if (isPlainObject(live) && isPlainObject(applied)) {
    const result: JsonObject = { ...live };
    for (const [name, value] of Object.entries(applied)) result[name] = mergeApplied(live[name], value, name);
    return result;
  }
  if (Array.isArray(live) && Array.isArray(applied) && field !== undefined) {
    const mode = listMode(field, applied);
    if (mode === 'keyed' && listMode(field, live) === 'keyed') {
      const merged = live.map((item) => {
        const match = applied.find((candidate) => itemToken(field, candidate) === itemToken(field, item));
        return match === undefined ? item : mergeApplied(item, match, undefined);
      });
      const added = applied.filter((item) => !live.some((existing) => itemToken(field, existing) === itemToken(field, item)));
      return [...merged, ...added.map((item) => clone(item))];
    }
    if (mode === 'set' && listMode(field, live) === 'set') {
      return [...live, ...applied.filter((item) => !live.includes(item))];
    }
  }
  return clone(applied);
}

/**
 * Applies `applied` for `context.manager` to `base` (the live object, or for a create a skeleton
 * with apiVersion, kind and metadata name/namespace). Returns the new object with its managed
 * fields, or throws a 409 Conflict listing every conflicting field.
 */
export function serverSideApply(base: JsonObject, applied: JsonObject, context: WriteContext & { force: boolean }): JsonObject {
  const configuration = managedContent(withoutNulls(applied) as JsonObject, context.scope);
  const appliedLeaves = leavesOf(configuration, 'all');
  const owners = readOwners(base);
  const applier = ownerFor(owners, 'Apply', context);
  const others = owners.filter((owner) => owner !== applier);
  const conflicts = findConflicts(base, appliedLeaves, others);
  if (conflicts.length > 0 && !context.force) throw conflictError(conflicts);
  for (const conflict of conflicts) conflict.owner.paths.delete(conflict.key);

  const ownedByOthers = new Set(others.flatMap((owner) => [...owner.paths.keys()]));
  const stillOwned = [...others.flatMap((owner) => [...owner.paths.values()]), ...[...appliedLeaves.values()].map((leaf) => leaf.path)];
  const ownedPrefixes = prefixesOf(stillOwned);
  const working = clone(base);
  for (const [key, path] of applier.paths) {
    if (!appliedLeaves.has(key) && !ownedByOthers.has(key)) removeLeaf(working, path, ownedPrefixes);
  }
  const merged = mergeApplied(working, configuration, undefined) as JsonObject;

  applier.paths = new Map([...appliedLeaves.values()].map((leaf) => [pathKey(leaf.path), leaf.path]));
  applier.time = context.time;
  applier.apiVersion = context.apiVersion;
  const metadata = isPlainObject(merged.metadata) ? merged.metadata : (merged.metadata = {});
  metadata.managedFields = finishOwners(owners, merged);
  return merged;
}
