/**
 * The three non-apply PATCH formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
 * strategic merge patch, simplified: it is a merge patch in which keyed lists (containers, env,
 * ports, ... — see field-paths.ts) merge item by item and set lists (finalizers) merge as sets,
 * with the `$patch: delete|replace` and `$deleteFromPrimitiveList/<field>` directives; other `$`
 * directives (such as `$setElementOrder`) are ignored.
 */
import { kubeErrors, KubeStatusError } from './errors.js';
import { itemToken, listMode } from './field-paths.js';
import { clone, deepEqual, isPlainObject, type JsonObject } from './json.js';

export type PatchType = 'json' | 'merge' | 'strategic';

export function applyPatch(type: PatchType, target: JsonObject, patch: unknown): unknown {
  switch (type) {
    case 'merge':
      return mergePatch(target, patch);
    case 'strategic':
      return strategicMergePatch(target, patch);
    case 'json':
      return jsonPatch(target, patch);
  }
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const result: JsonObject = isPlainObject(target) ? { ...target } : {};
  for (const [field, value] of Object.entries(patch)) {
    if (value === null) delete result[field];
    else result[field] = mergePatch(result[field], value);
  }
  return result;
}

const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/';

function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') return withoutDirectives(patch);
  const result: JsonObject = isPlainObject(target) ? { ...target } : {};
  for (const [name, value] of Object.entries(patch)) {
    if (name.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      const listField = name.slice(DELETE_FROM_PRIMITIVE_LIST.length);
      const current = result[listField];
      if (Array.isArray(current) && Array.isArray(value)) {
        result[listField] = current.filter((item) => !value.some((removed) => deepEqual(item, removed)));
      }
      continue;
    }
    if (name.startsWith('$')) continue;
    if (value === null) delete result[name];
    else if (Array.isArray(value)) result[name] = mergeList(result[name], value, name);
    else result[name] = strategicMergePatch(result[name], value);
  }
  return result;
}

function withoutDirectives(value: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(value).filter(([name]) => !name.startsWith('$')));
}

function mergeList(target: unknown, patch: unknown[], field: string): unknown[] {
  const current = Array.isArray(target) ? target : [];
  const mode = listMode(field, patch.map((item) => (isPlainObject(item) ? withoutDirectives(item) : item)));
  if (mode === 'set') return [...current, ...patch.filter((item) => !current.some((existing) => deepEqual(existing, item)))];
  if (mode !== 'keyed' || listMode(field, current) !== 'keyed') return patch.map((item) => clone(item));
  const result = [...current];
  for (const item of patch) {
    if (!isPlainObject(item)) continue;
    const token = itemToken(field, item);
    const index = result.findIndex((existing) => itemToken(field, existing) === token);
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = strategicMergePatch(result[index], item);
    } else {
      result.push(strategicMergePatch({}, item));
    }
  }
  return result;
}

function jsonPatch(target: JsonObject, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw kubeErrors.badRequest('a JSON patch must be an array of operations');
  let document: unknown = clone(target);
  for (const operation of patch) {
    if (!isPlainObject(operation) || typeof operation.op !== 'string' || typeof operation.path !== 'string') {
      throw kubeErrors.badRequest(`invalid JSON patch operation: ${JSON.stringify(operation)}`);
    }
    document = applyOperation(document, operation, operation.op, operation.path);
  }
  return document;
}

/** JSON patch failures are 422, as the API server answers a patch that does not apply. */
function patchFailed(message: string): KubeStatusError {
  return new KubeStatusError(422, 'Invalid', `the server rejected our request due to an error in our request: ${message}`);
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw patchFailed(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function applyOperation(document: unknown, operation: JsonObject, op: string, path: string): unknown {
  switch (op) {
    case 'add':
      return addAt(document, parsePointer(path), clone(operation.value), path);
    case 'remove':
      return removeAt(document, parsePointer(path), path).document;
    case 'replace':
      return addAt(removeAt(document, parsePointer(path), path).document, parsePointer(path), clone(operation.value), path);
    case 'move': {
      const from = String(operation.from);
      const removed = removeAt(document, parsePointer(from), from);
      return addAt(removed.document, parsePointer(path), removed.value, path);
    }
    case 'copy': {
      const from = String(operation.from);
      return addAt(document, parsePointer(path), clone(getAt(document, parsePointer(from), from)), path);
    }
    case 'test':
      if (!deepEqual(getAt(document, parsePointer(path), path), operation.value)) {
        throw patchFailed(`testing value ${path} failed`);
      }
      return document;
    default:
      throw kubeErrors.badRequest(`unknown JSON patch operation "${op}"`);
  }
}

function getAt(document: unknown, tokens: string[], path: string): unknown {
  let current = document;
  for (const token of tokens) {
    if (Array.isArray(current)) current = current[Number(token)];
    else if (isPlainObject(current) && Object.hasOwn(current, token)) current = current[token];
    else throw patchFailed(`doc is missing path: "${path}"`);
    if (current === undefined) throw patchFailed(`doc is missing path: "${path}"`);
  }
  return current;
}

function addAt(document: unknown, tokens: string[], value: unknown, path: string): unknown {
  const last = tokens.at(-1);
  if (last === undefined) return value;
  const parent = getAt(document, tokens.slice(0, -1), path);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw patchFailed(`index out of bounds in "${path}"`);
    parent.splice(index, 0, value);
  } else if (isPlainObject(parent)) {
    parent[last] = value;
  } else {
    throw patchFailed(`doc is missing path: "${path}"`);
  }
  return document;
}

function removeAt(document: unknown, tokens: string[], path: string): { document: unknown; value: unknown } {
  const last = tokens.at(-1);
  if (last === undefined) throw patchFailed('cannot remove the whole document');
  const parent = getAt(document, tokens.slice(0, -1), path);
  const value = getAt(parent, [last], path);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else if (isPlainObject(parent)) delete parent[last];
  return { document, value };
}
