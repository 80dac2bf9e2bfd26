/**
 * Label and field selectors, parsed once per request and matched against stored objects. Grammar
 * and semantics follow k8s.io/apimachinery: `!=` and `notin` also match objects without the label.
 */
import { kubeErrors } from './errors.js';
import { isPlainObject, valueAtDottedPath, type JsonObject } from './json.js';

export type LabelRequirement =
  | { key: string; operator: 'exists' | 'doesNotExist' }
  | { key: string; operator: 'in' | 'notIn'; values: readonly string[] };

export interface FieldRequirement {
  path: string;
  value: string;
  negated: boolean;
}

export interface Selector {
  labels: readonly LabelRequirement[];
  fields: readonly FieldRequirement[];
}

const KEY = String.raw`[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const EXISTS = new RegExp(`^(${KEY})$`);
const DOES_NOT_EXIST = new RegExp(`^!\\s*(${KEY})$`);
const EQUALITY = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`);
const SET_VALUE = new RegExp(`^${VALUE}$`);

/** Splits on commas that are not inside `(...)`, so `a in (x,y),b` is two requirements. */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === ',' && depth === 0) {
      parts.push(text.slice(start, index));
      start = index + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((part) => part.trim());
}

function parseLabelRequirement(text: string): LabelRequirement {
  let match = DOES_NOT_EXIST.exec(text);
  if (match?.[1]) return { key: match[1], operator: 'doesNotExist' };
  match = EQUALITY.exec(text);
  if (match?.[1] && match[2]) {
    return { key: match[1], operator: match[2] === '!=' ? 'notIn' : 'in', values: [match[3] ?? ''] };
  }
  match = SET.exec(text);
  if (match?.[1] && match[2] && match[3] !== undefined) {
    const values = match[3].split(',').map((value) => value.trim());
    if (values.every((value) => SET_VALUE.test(value))) {
      return { key: match[1], operator: match[2] === 'in' ? 'in' : 'notIn', values };
    }
  }
  match = EXISTS.exec(text);
  if (match?.[1]) return { key: match[1], operator: 'exists' };
  throw kubeErrors.badRequest(`unable to parse requirement: found '${text}', expected a label selector requirement`);
}

export function parseLabelSelector(text: string | undefined): LabelRequirement[] {
  if (text === undefined || text.trim() === '') return [];
  return splitRequirements(text).map(parseLabelRequirement);
}

/** `allowedPaths` are the type's selectable fields; the API server rejects any other field. */
export function parseFieldSelector(text: string | undefined, allowedPaths: readonly string[]): FieldRequirement[] {
  if (text === undefined || text.trim() === '') return [];
  return splitRequirements(text).map((part) => {
    const match = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!match?.[1] || match[3] === undefined) throw kubeErrors.badRequest(`invalid selector: '${part}'; can't understand '${part}'`);
    const path = match[1];
    if (!allowedPaths.includes(path)) {
      throw kubeErrors.badRequest(`field label not supported: ${path}`);
    }
    return { path, value: match[3] ?? '', negated: match[2] === '!=' };
  });
}

function matchesLabel(requirement: LabelRequirement, labels: JsonObject): boolean {
  const present = Object.hasOwn(labels, requirement.key);
  const value = labels[requirement.key];
  switch (requirement.operator) {
    case 'exists':
      return present;
    case 'doesNotExist':
      return !present;
    case 'in':
      return present && requirement.values.includes(String(value));
    case 'notIn':
      return !present || !requirement.values.includes(String(value));
  }
}

function fieldText(object: JsonObject, path: string): string {
  const value = valueAtDottedPath(object, path);
  return value === undefined || value === null ? '' : String(value);
}

export function matchesSelector(selector: Selector, object: JsonObject): boolean {
  const metadata = isPlainObject(object.metadata) ? object.metadata : {};
  const labels = isPlainObject(metadata.labels) ? metadata.labels : {};
  return (
    selector.labels.every((requirement) => matchesLabel(requirement, labels)) &&
    selector.fields.every((requirement) => (fieldText(object, requirement.path) === requirement.value) !== requirement.negated)
  );
}
