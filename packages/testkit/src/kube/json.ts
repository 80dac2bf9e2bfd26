/**
 * Helpers for the plain JSON values the emulator stores: what JSON.parse returns, nothing else.
 */
export type JsonObject = { [field: string]: unknown };

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Plain JSON copy of any value: Dates become RFC 3339 strings, class instances plain objects. */
export function toJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, index) => deepEqual(item, b[index]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && deepEqual(a[key], b[key]));
  }
  return false;
}

/** Committed objects are frozen so that no code path can change history behind a watcher's back. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** The object at `field` of `parent`, created empty when absent. */
export function childObject(parent: JsonObject, field: string): JsonObject {
  const existing = parent[field];
  if (isPlainObject(existing)) return existing;
  const created: JsonObject = {};
  parent[field] = created;
  return created;
}

/** Value at a dotted path such as `spec.nodeName`; undefined when any step is missing. */
export function valueAtDottedPath(object: JsonObject, path: string): unknown {
  let current: unknown = object;
  for (const step of path.split('.')) {
    if (!isPlainObject(current)) return undefined;
    current = current[step];
  }
  return current;
}
