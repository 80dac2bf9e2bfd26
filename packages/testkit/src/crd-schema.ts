/**
 * What a Kubernetes API server does with a custom resource and its CRD's structural
 * openAPIV3Schema, for tests without a real server: defaulting, validation with the server's
 * error wording (`spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or
 * equal to 1`), unknown fields (reported, as `kubectl apply --validate=strict` does), and the CEL
 * rules the Ballast CRD uses. A rule of another shape is reported as unsupported rather than
 * silently passed.
 */

export interface SchemaNode {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  maxLength?: number;
  format?: string;
  nullable?: boolean;
  default?: unknown;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: Array<{ rule: string; message?: string }>;
  [keyword: string]: unknown;
}

/** A copy of `value` with the schema's defaults filled in, as the API server does on create and update. */
export function applySchemaDefaults(schema: SchemaNode, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (schema.type === 'array' && Array.isArray(value) && schema.items !== undefined) return value.map((item) => applySchemaDefaults(schema.items!, item));
  if (schema.type !== 'object' || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    if (out[name] === undefined && child.default !== undefined) out[name] = structuredClone(child.default);
    if (out[name] !== undefined) out[name] = applySchemaDefaults(child, out[name]);
  }
  return out;
}

/**
 * Every problem of `value` (already defaulted) against `schema`, each starting with its field path.
 * `old` is the stored object on an update (for transition rules such as `self == oldSelf`).
 */
export function validateAgainstSchema(schema: SchemaNode, value: unknown, old?: unknown, path = ''): string[] {
  const errors: string[] = [];
  const at = path === '' ? '<root>' : path;
  if (value === null) {
    if (schema.nullable !== true) errors.push(`${at}: Invalid value: "null": ${at} in body must be of type ${schema.type ?? 'object'}`);
    return errors;
  }
  const typeError = checkType(schema, value, at);
  if (typeError !== null) return [typeError];
  if (schema.enum !== undefined && !schema.enum.some((allowed) => allowed === value)) {
    errors.push(`${at}: Unsupported value: ${JSON.stringify(value)}: supported values: ${schema.enum.map((allowed) => JSON.stringify(String(allowed))).join(', ')}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: Invalid value: ${value}: ${at} in body should be greater than or equal to ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: Invalid value: ${value}: ${at} in body should be less than or equal to ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: Too long: may not be more than ${schema.maxLength} bytes`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) errors.push(`${at}: Invalid value: ${JSON.stringify(value)}: ${at} in body should match '${schema.pattern}'`);
    if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) errors.push(`${at}: Invalid value: ${JSON.stringify(value)}: ${at} in body must be of type date-time`);
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((item, index) => errors.push(...validateAgainstSchema(schema.items!, item, undefined, `${path}[${index}]`)));
  }
  if (schema.type === 'object') errors.push(...validateObject(schema, value as Record<string, unknown>, old, path));
  for (const validation of schema['x-kubernetes-validations'] ?? []) {
    const outcome = evaluateRule(validation.rule, value, old);
    if (outcome === 'unsupported') errors.push(`${at}: unsupported CEL rule in this emulation: ${validation.rule}`);
    else if (!outcome) errors.push(`${at}: Invalid value: ${validation.message ?? `failed rule: ${validation.rule}`}`);
  }
  return errors;
}

function checkType(schema: SchemaNode, value: unknown, at: string): string | null {
  const type = schema.type;
  if (type === undefined) return null;
  const actual = Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  const ok = type === actual || (type === 'number' && actual === 'integer') || (type === 'object' && actual === 'object');
  return ok ? null : `${at}: Invalid value: ${JSON.stringify(value)}: ${at} in body must be of type ${type}: "${actual}"`;
}

function validateObject(schema: SchemaNode, value: Record<string, unknown>, old: unknown, path: string): string[] {
  const errors: string[] = [];
  const oldObject = old !== null && typeof old === 'object' ? (old as Record<string, unknown>) : undefined;
  for (const name of schema.required ?? []) {
    if (value[name] === undefined) errors.push(`${join(path, name)}: Required value`);
  }
  const properties = schema.properties ?? {};
  for (const [name, child] of Object.entries(value)) {
    if (isRootMeta(path, name)) continue;
    const field = join(path, name);
    const known = properties[name] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (known !== undefined) errors.push(...validateAgainstSchema(known, child, oldObject?.[name], field));
    else if (schema['x-kubernetes-preserve-unknown-fields'] !== true && schema.additionalProperties !== true) {
      errors.push(`unknown field "${field}"`);
    }
  }
  return errors;
}

/** apiVersion, kind and metadata at the root are the API server's, whatever the schema says. */
function isRootMeta(path: string, name: string): boolean {
  return path === '' && (name === 'apiVersion' || name === 'kind' || name === 'metadata');
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

/** The CEL rule shapes the Ballast CRD uses; anything else is 'unsupported'. */
function evaluateRule(rule: string, self: unknown, old: unknown): boolean | 'unsupported' {
  if (rule === 'self == oldSelf') return old === undefined || JSON.stringify(self) === JSON.stringify(old);
  const size = /^size\(self\.metadata\.name\) <= (\d+)$/.exec(rule);
  if (size !== null) {
    const name = ((self as { metadata?: { name?: unknown } }).metadata?.name ?? '') as string;
    return name.length <= Number(size[1]);
  }
  const matches = /^self\.metadata\.name\.matches\('(.*)'\)$/.exec(rule);
  if (matches !== null) {
    const name = ((self as { metadata?: { name?: unknown } }).metadata?.name ?? '') as string;
    return new RegExp(matches[1]!).test(name);
  }
  return 'unsupported';
}
