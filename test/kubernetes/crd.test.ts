// The KVCluster CRD (crds/ballast.io_kvclusters.yaml), generated from packages/operator/src/api.ts:
// - it is not stale (the generator's --check), and the chart carries the same file;
// - its schema is structural (every node typed or marked free-form; no $ref, definitions, anyOf,
//   properties next to additionalProperties) — what the API server requires of a v1 CRD;
// - every example KVCluster validates, and the defaults the server fills in are the operator's own;
// - bad specs are rejected, with the API server's wording naming the field, and the operator's
//   validateSpec rejects the same specs with its own clear message;
// - the printer columns read fields the operator's status really has.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { applySchemaDefaults, validateAgainstSchema, type SchemaNode } from '@ballast/testkit';
import { applyDefaults, decide, validateName, validateSpec, type KVClusterSpecInput } from '@ballast/operator';

const CRD_FILE = 'crds/ballast.io_kvclusters.yaml';

interface Crd {
  spec: {
    names: { kind: string; plural: string; shortNames: string[] };
    versions: Array<{ name: string; subresources: { status: object }; additionalPrinterColumns: Array<{ name: string; jsonPath: string }>; schema: { openAPIV3Schema: SchemaNode } }>;
  };
}

const crd = parse(readFileSync(CRD_FILE, 'utf8')) as Crd;
const version = crd.spec.versions[0]!;
const schema = version.schema.openAPIV3Schema;

/** What the API server does on create (or update, with the stored object): default, then validate. */
function admit(object: unknown, old?: unknown): { object: { spec: Record<string, unknown> }; errors: string[] } {
  const defaulted = applySchemaDefaults(schema, object) as { spec: Record<string, unknown> };
  return { object: defaulted, errors: validateAgainstSchema(schema, defaulted, old) };
}

function kvcluster(spec: Record<string, unknown>, name = 'kv'): Record<string, unknown> {
  return { apiVersion: 'ballast.io/v1alpha1', kind: 'KVCluster', metadata: { name }, spec };
}

describe('the KVCluster CRD', () => {
  it('is generated from the API types and not stale; the chart carries the same file', () => {
    execFileSync(process.execPath, ['scripts/gen-crd.mjs', '--check'], { stdio: 'pipe' });
    expect(readFileSync('charts/ballast-operator/crds/ballast.io_kvclusters.yaml', 'utf8')).toBe(readFileSync(CRD_FILE, 'utf8'));
    expect(crd.spec.names).toMatchObject({ kind: 'KVCluster', plural: 'kvclusters', shortNames: ['kvc'] });
    expect(version.subresources.status).toEqual({});
  });

  it('has a structural schema', () => {
    const problems: string[] = [];
    const walk = (node: SchemaNode, at: string): void => {
      for (const keyword of ['$ref', 'definitions', 'anyOf', 'oneOf', 'allOf', '$schema']) if (keyword in node) problems.push(`${at}: ${keyword}`);
      if (node.type === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true) problems.push(`${at}: no type`);
      if (node.properties !== undefined && node.additionalProperties !== undefined) problems.push(`${at}: properties and additionalProperties`);
      for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, `${at}.${name}`);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${at}.*`);
      if (node.items !== undefined) walk(node.items, `${at}[]`);
    };
    walk(schema, '');
    expect(problems).toEqual([]);
  });

  it('accepts every example KVCluster, and the server-side defaults are the operator’s defaults', () => {
    const files = readdirSync('manifests/examples').filter((file) => file.endsWith('.yaml'));
    const examples = files.flatMap((file) =>
      parseAllDocuments(readFileSync(path.join('manifests/examples', file), 'utf8'))
        .map((document) => document.toJS() as { kind?: string; metadata: { name: string }; spec?: KVClusterSpecInput })
        .filter((object) => object?.kind === 'KVCluster')
        .map((object) => ({ file, object })),
    );
    expect(examples.length).toBeGreaterThanOrEqual(1);
    for (const { file, object } of examples) {
      const admitted = admit(object);
      expect(admitted.errors, file).toEqual([]);
      expect(validateSpec(applyDefaults(object.spec ?? {})), file).toEqual([]);
      expect(validateName(object.metadata.name), file).toEqual([]);
      // Whatever the user left out, the server fills in exactly what the operator would assume.
      expect(admitted.object.spec, file).toEqual(JSON.parse(JSON.stringify(applyDefaults(object.spec ?? {}))));
    }
    expect(admit({ apiVersion: 'ballast.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'empty' } }).object.spec).toEqual(JSON.parse(JSON.stringify(applyDefaults({}))));
  });

  it.each([
    ['negative replicas', { replicas: -1 }, 'spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 1', 'spec.replicas: must be an integer from 1'],
    ['a partition count that is not a power of two', { partitions: 100 }, 'spec.partitions: Unsupported value: 100: supported values: "1", "2", "4"', 'spec.partitions: must be a power of two'],
    ['an unknown writeSynchronization', { writeSynchronization: 'QUORUM' }, 'spec.writeSynchronization: Unsupported value: "QUORUM": supported values: "FULL_SYNC", "PRIMARY_SYNC"', 'spec.writeSynchronization: must be one of FULL_SYNC, PRIMARY_SYNC'],
    ['a grace timeout that is not a duration', { baseline: { autoAdjust: { graceTimeout: '5 minutes' } } }, 'spec.baseline.autoAdjust.graceTimeout: Invalid value: "5 minutes"', 'spec.baseline.autoAdjust.graceTimeout: must be a duration'],
    ['too many backups', { backups: 9 }, 'spec.backups: Invalid value: 9: spec.backups in body should be less than or equal to', 'spec.backups: must be an integer from 0 to'],
    ['a fractional replica count', { replicas: 2.5 }, 'spec.replicas: Invalid value: 2.5: spec.replicas in body must be of type integer', 'spec.replicas: must be an integer'],
  ])('rejects %s with a clear message (the API server and validateSpec)', (_what, spec, serverMessage, operatorMessage) => {
    expect(admit(kvcluster(spec)).errors.join('\n')).toContain(serverMessage);
    expect(validateSpec(applyDefaults(spec as KVClusterSpecInput)).join('\n')).toContain(operatorMessage);
  });

  it('rejects unknown fields, a changed partition count or storage, and a name too long or not a DNS label', () => {
    expect(admit(kvcluster({ replica: 3 })).errors).toContain('unknown field "spec.replica"');
    const stored = admit(kvcluster({ partitions: 64 })).object;
    expect(admit(kvcluster({ partitions: 128 }), stored).errors.join('\n')).toContain('spec.partitions: Invalid value: partitions is immutable');
    expect(admit(kvcluster({ partitions: 64, replicas: 5 }), stored).errors).toEqual([]);
    const storage = admit(kvcluster({ storage: { size: '10Gi' } })).object;
    expect(admit(kvcluster({ storage: { size: '20Gi' } }), storage).errors.join('\n')).toContain('storage is immutable');
    expect(admit(kvcluster({}, '1db')).errors.join('\n')).toContain('metadata.name must start with a lowercase letter');
    expect(validateName('1db').join('\n')).toContain('metadata.name: must start with a lowercase letter');
    const long = 'k'.repeat(41);
    expect(admit(kvcluster({}, long)).errors.join('\n')).toContain('metadata.name must be at most 40 characters');
    expect(validateName(long).join('\n')).toContain('metadata.name: must be at most 40 characters');
  });

  it('has the printer columns READY, STATE, BASELINE, UNDER-REPLICATED, REBALANCE, AGE, reading fields the status has', () => {
    const columns = version.additionalPrinterColumns;
    expect(columns.map((column) => column.name.toUpperCase())).toEqual(['READY', 'STATE', 'BASELINE', 'UNDER-REPLICATED', 'REBALANCE', 'AGE']);
    const spec = applyDefaults({ replicas: 3 });
    const members = ['kv-0', 'kv-1', 'kv-2'];
    const { status } = decide({
      name: 'kv',
      spec,
      status: undefined,
      nowMs: Date.parse('2026-11-22T12:00:00Z'),
      observed: {
        generation: 1,
        members: members.map((name) => ({ name, running: true, online: name !== 'kv-2', configHash: '' })),
        cluster: {
          state: 'ACTIVE',
          autoActivatePending: false,
          activated: true,
          baseline: members,
          onlineNodes: ['kv-0', 'kv-1'],
          partitions: { total: 256, underReplicated: 40, lost: 0 },
          rebalance: { inProgress: true, partitionsTotal: 64, partitionsDone: 12, bytesMoved: 1, bytesRemaining: 2 },
        },
      },
    });
    const object = { metadata: { creationTimestamp: '2026-11-22T11:00:00Z' }, status };
    const read = (jsonPath: string): unknown => jsonPath.slice(1).split('.').reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], object);
    expect(columns.map((column) => read(column.jsonPath))).toEqual(['2/3', 'ACTIVE', '3→2 at 12:05:00Z', 40, '12/64', '2026-11-22T11:00:00Z']);
    expect(validateAgainstSchema(schema.properties!['status']!, JSON.parse(JSON.stringify(status)), undefined, 'status')).toEqual([]);
  });
});
