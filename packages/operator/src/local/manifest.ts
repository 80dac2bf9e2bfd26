/**
 * Reads a KVCluster manifest (YAML or JSON) as `ballast dev -f FILE` gets it: the same object a
 * user would `kubectl apply`. Only the name and the spec are used here.
 */
import { parse } from 'yaml';
import { API_GROUP, API_VERSION, KIND, validateName, type KVClusterSpecInput } from '../api.js';

export function parseKVClusterFile(text: string): { name: string; spec: KVClusterSpecInput; raw: Record<string, unknown> } {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new Error(`not valid YAML: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('the file must hold one KVCluster object');
  const object = raw as Record<string, unknown>;
  if (object['apiVersion'] !== `${API_GROUP}/${API_VERSION}`) {
    throw new Error(`apiVersion must be ${API_GROUP}/${API_VERSION}, got ${JSON.stringify(object['apiVersion'])}`);
  }
  if (object['kind'] !== KIND) throw new Error(`kind must be ${KIND}, got ${JSON.stringify(object['kind'])}`);
  const metadata = object['metadata'] as Record<string, unknown> | undefined;
  const name = metadata?.['name'];
  const nameErrors = validateName(name);
  if (nameErrors.length > 0) throw new Error(nameErrors.join('; '));
  const spec = object['spec'] ?? {};
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error('spec must be an object');
  return { name: name as string, spec: spec as KVClusterSpecInput, raw: object };
}
