/**
 * Checks Kubernetes objects (parsed YAML or JSON) against the API's own field list, without a
 * cluster: @kubernetes/client-node is generated from the Kubernetes OpenAPI document, and each of its
 * model classes (V1Deployment, V1PodSpec, …) carries an `attributeTypeMap` naming every field's JSON
 * name, type and format. Walking an object along those maps finds what `kubectl apply` would
 * reject (a wrong type) and what it would silently drop (an unknown field, such as a mis-indented
 * block in a template), with the path of each.
 *
 * Stricter than the API server in one place: a resource quantity must be a string (`cpu: "1"`), as
 * the model types it, although the server also accepts a bare number. A null is reported too: in a
 * rendered manifest it is nearly always an empty template block.
 */
import * as k8s from '@kubernetes/client-node';

interface Attribute {
  /** The JSON name. */
  baseName: string;
  /** `string`, `number`, `boolean`, `Date`, `any`, `IntOrString`, `Array<T>`, `{ [key: string]: T; }` or a model name. */
  type: string;
  /** `int32`, `int64`, `double`, `date-time`, `byte`, `int-or-string` or empty. */
  format: string;
}

interface ModelClass {
  getAttributeTypeMap(): Attribute[];
}

const ARRAY_PREFIX = 'Array<';
const MAP_PREFIX = '{ [key: string]: ';
const MAP_SUFFIX = '; }';

/** The client-node model class of that name; undefined when there is none. */
function model(name: string): ModelClass | undefined {
  const candidate = (k8s as unknown as Record<string, { getAttributeTypeMap?: unknown } | undefined>)[name];
  return typeof candidate?.getAttributeTypeMap === 'function' ? (candidate as ModelClass) : undefined;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The client-node model of a top-level object: `V1Deployment` for apps/v1 Deployment. Kinds whose
 * name exists in several groups carry the group in front (`CoreV1Event` for v1 Event,
 * `EventsV1Event` for events.k8s.io/v1 Event), so that form is tried first.
 */
export function modelNameFor(apiVersion: string, kind: string): string | undefined {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = capitalize(slash < 0 ? apiVersion : apiVersion.slice(slash + 1));
  const groupPrefix = group === '' ? 'Core' : capitalize(group.split('.')[0]!);
  return [`${groupPrefix}${version}${kind}`, `${version}${kind}`].find((name) => model(name) !== undefined);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shape(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Problems of `value` read as client-node type `type` (see Attribute.type); [] when it fits. */
export function checkValue(value: unknown, type: string, format: string, path: string): string[] {
  if (value === null || value === undefined) return [`${path}: ${value === null ? 'null' : 'missing'} (expected ${type})`];
  if (type === 'any') return [];
  if (type.startsWith(ARRAY_PREFIX)) {
    if (!Array.isArray(value)) return [`${path}: expected an array (${type}), got ${shape(value)}`];
    const itemType = type.slice(ARRAY_PREFIX.length, -1);
    return value.flatMap((item, index) => checkValue(item, itemType, '', `${path}[${index}]`));
  }
  if (type.startsWith(MAP_PREFIX)) {
    if (!isPlainObject(value)) return [`${path}: expected a map (${type}), got ${shape(value)}`];
    const valueType = type.slice(MAP_PREFIX.length, -MAP_SUFFIX.length);
    return Object.entries(value).flatMap(([key, item]) => checkValue(item, valueType, '', `${path}.${key}`));
  }
  switch (type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${path}: expected a string, got ${shape(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected a boolean, got ${shape(value)}`];
    case 'number':
      if (typeof value !== 'number') return [`${path}: expected a number, got ${shape(value)}`];
      return (format === 'int32' || format === 'int64') && !Number.isInteger(value) ? [`${path}: expected an integer (${format}), got ${value}`] : [];
    case 'IntOrString':
      return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)) ? [] : [`${path}: expected an integer or a string, got ${shape(value)}`];
    case 'Date':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? [] : [`${path}: expected an RFC 3339 time, got ${shape(value)}`];
    default: {
      const modelClass = model(type);
      if (modelClass === undefined) return [`${path}: unknown type ${type} in the client-node models`];
      if (!isPlainObject(value)) return [`${path}: expected an object (${type}), got ${shape(value)}`];
      const attributes = new Map(modelClass.getAttributeTypeMap().map((attribute) => [attribute.baseName, attribute]));
      return Object.entries(value).flatMap(([key, item]) => {
        const attribute = attributes.get(key);
        if (attribute === undefined) return [`${path}.${key}: unknown field of ${type}`];
        return checkValue(item, attribute.type, attribute.format, `${path}.${key}`);
      });
    }
  }
}

/**
 * Problems of a whole object (`Deployment ballast-system/op: spec.replicas: expected a number…`);
 * [] when every field is known and well typed. An object whose kind has no model is a problem:
 * custom resources need their own check.
 */
export function checkObject(object: unknown): string[] {
  if (!isPlainObject(object)) return [`expected a Kubernetes object, got ${shape(object)}`];
  const { apiVersion, kind, metadata } = object;
  const name = isPlainObject(metadata) && typeof metadata.name === 'string' ? `${typeof metadata.namespace === 'string' ? `${metadata.namespace}/` : ''}${metadata.name}` : '(no name)';
  const label = `${String(kind)} ${name}`;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return [`${label}: apiVersion and kind must be strings`];
  const modelName = modelNameFor(apiVersion, kind);
  if (modelName === undefined) return [`${label}: no client-node model for ${apiVersion} ${kind}`];
  const problems = checkValue(object, modelName, '', '');
  if (!isPlainObject(metadata) || typeof metadata.name !== 'string' || metadata.name === '') problems.push('.metadata.name: required');
  return problems.map((problem) => `${label}: ${problem.replace(/^\./, '')}`);
}
