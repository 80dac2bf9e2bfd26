#!/usr/bin/env node
/**
 * Generates the KVCluster CustomResourceDefinition from the TypeScript API types
 * (packages/operator/src/api.ts — the single source of truth) and writes it to
 * crds/ballast.io_kvclusters.yaml and charts/ballast-operator/crds/ballast.io_kvclusters.yaml.
 *
 *   node scripts/gen-crd.mjs           write both files
 *   node scripts/gen-crd.mjs --check   exit 1 when either file differs from what would be written
 *
 * The shape and descriptions come from the types and their doc comments (ts-json-schema-generator);
 * defaults, bounds and rules come from the constants the operator validates with (SPEC_DEFAULTS,
 * REPLICAS_MAX, …, imported from the built package), so the CRD and `validateSpec` cannot drift.
 * The JSON Schema is then made structural, as Kubernetes requires: no $schema/$ref, every node
 * typed, `nullable` instead of `| null`, free-form objects marked x-kubernetes-preserve-unknown-fields,
 * numbers as integers (the API has no fractional numbers), and `default: {}` on the objects whose
 * fields have defaults, so that defaulting reaches them when a user leaves them out.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGenerator } from 'ts-json-schema-generator';
import YAML from 'yaml';
import { BACKUPS_MAX, MAP_PARTITIONS_MAX } from '../packages/cluster/dist/index.js';
import { API_GROUP, API_VERSION, KIND, REPLICAS_MAX, SPEC_DEFAULTS, NAME_LENGTH_MAX } from '../packages/operator/dist/api.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CRD_FILES = ['crds/ballast.io_kvclusters.yaml', 'charts/ballast-operator/crds/ballast.io_kvclusters.yaml'];

/** The CRD as a YAML document. */
export function generateCrd() {
  const generator = createGenerator({
    path: path.join(root, 'packages/operator/src/api.ts'),
    tsconfig: path.join(root, 'packages/operator/tsconfig.json'),
    type: '*',
    expose: 'none',
    topRef: false,
    jsDoc: 'extended',
    skipTypeCheck: true,
    additionalProperties: true,
  });
  const spec = structural(generator.createSchema('KVClusterSpec'));
  const status = structural(generator.createSchema('KVClusterStatus'));
  constrainSpec(spec);
  constrainStatus(status);
  const plural = 'kvclusters';
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${plural}.${API_GROUP}`,
      annotations: { 'ballast.io/generated-by': 'scripts/gen-crd.mjs from packages/operator/src/api.ts; do not edit' },
    },
    spec: {
      group: API_GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural, singular: 'kvcluster', shortNames: ['kvc'], categories: ['ballast'] },
      scope: 'Namespaced',
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.ready', description: 'Online of desired members' },
            { name: 'State', type: 'string', jsonPath: '.status.clusterState', description: 'Cluster state' },
            { name: 'Baseline', type: 'string', jsonPath: '.status.baseline.summary', description: 'Baseline size, and a pending change with its deadline' },
            { name: 'Under-Replicated', type: 'integer', jsonPath: '.status.partitions.underReplicated', description: 'Partitions missing an in-sync replica' },
            { name: 'Rebalance', type: 'string', jsonPath: '.status.rebalanceProgress', description: 'Partitions moved of those moving' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'A partitioned, replicated Redis-protocol key-value store run by the Ballast operator.',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: { ...spec, description: 'The desired cluster. Every field has a default.', default: {} },
                status: { ...status, description: 'What the operator observed and decided (written by the operator only).' },
              },
              'x-kubernetes-validations': [
                {
                  // StatefulSet pods get a controller-revision-hash label of name + hash (63 characters at most).
                  rule: `size(self.metadata.name) <= ${NAME_LENGTH_MAX}`,
                  message: `metadata.name must be at most ${NAME_LENGTH_MAX} characters (member pods and their labels derive from it)`,
                },
                {
                  // Services are named after it: a DNS-1035 label.
                  rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
                  message: "metadata.name must start with a lowercase letter and contain only lowercase letters, digits and '-' (not at the end)",
                },
              ],
            },
          },
        },
      ],
    },
  };
  const header = '# Generated by scripts/gen-crd.mjs from packages/operator/src/api.ts. Do not edit: run `npm run gen:crd`.\n';
  return header + YAML.stringify(crd, { lineWidth: 0 });
}

/** JSON Schema → Kubernetes structural schema (see the header). */
function structural(node) {
  if (Array.isArray(node)) return node.map(structural);
  if (node === null || typeof node !== 'object') return node;
  const { $schema: _schema, definitions: _definitions, ...rest } = node;
  const variants = rest.anyOf;
  if (Array.isArray(variants) && variants.some((variant) => variant.type === 'null')) {
    // `T | null`: T, nullable.
    const others = variants.filter((variant) => variant.type !== 'null');
    if (others.length !== 1) throw new Error(`cannot express ${JSON.stringify(node)} structurally`);
    const { anyOf: _anyOf, ...outer } = rest;
    return { ...structural(others[0]), ...structural(outer), nullable: true };
  }
  const out = {};
  for (const [key, value] of Object.entries(rest)) {
    out[key] = key === 'properties' ? Object.fromEntries(Object.entries(value).map(([name, child]) => [name, structural(child)])) : structural(value);
  }
  if (out.type === 'number') out.type = 'integer';
  if (out.type === 'object' && out.properties === undefined && isEmptyObject(out.additionalProperties)) {
    delete out.additionalProperties;
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  if (out.type === 'object' && out.properties !== undefined && out.additionalProperties === true) delete out.additionalProperties;
  return out;
}

function isEmptyObject(value) {
  return value !== null && typeof value === 'object' && Object.keys(value).length === 0;
}

/** Defaults, bounds and rules of the spec, from the constants the operator validates with. */
function constrainSpec(spec) {
  const fields = spec.properties;
  // Users may leave out everything but replicas has a default, and the server fills them in.
  dropRequired(spec);
  Object.assign(fields.replicas, { minimum: 1, maximum: REPLICAS_MAX, default: SPEC_DEFAULTS.replicas });
  const powersOfTwo = [];
  for (let count = 1; count <= MAP_PARTITIONS_MAX; count *= 2) powersOfTwo.push(count);
  Object.assign(fields.partitions, {
    enum: powersOfTwo,
    default: SPEC_DEFAULTS.partitions,
    'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'partitions is immutable; create a new cluster to change it' }],
  });
  Object.assign(fields.backups, { minimum: 0, maximum: BACKUPS_MAX, default: SPEC_DEFAULTS.backups });
  fields.writeSynchronization.default = SPEC_DEFAULTS.writeSynchronization;
  fields.durability.default = SPEC_DEFAULTS.durability;
  fields.baseline.default = {};
  const autoAdjust = fields.baseline.properties.autoAdjust;
  autoAdjust.default = {};
  autoAdjust.properties.enabled.default = true;
  Object.assign(autoAdjust.properties.graceTimeout, { default: SPEC_DEFAULTS.graceTimeout, pattern: '^([0-9]+(ms|s|m|h))+$', maxLength: 32 });
  fields.storage.properties.size.pattern = '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$';
  fields.storage.required = ['size'];
  // A StatefulSet's volumeClaimTemplates cannot change: a new size or class needs a new cluster.
  fields.storage['x-kubernetes-validations'] = [{ rule: 'self == oldSelf', message: 'storage is immutable (volume claim templates cannot change); create a new cluster to change it' }];
}

function constrainStatus(status) {
  const conditions = status.properties.conditions;
  conditions['x-kubernetes-list-type'] = 'map';
  conditions['x-kubernetes-list-map-keys'] = ['type'];
  conditions.items.properties.lastTransitionTime.format = 'date-time';
  // Nullable fields are optional too: a merge patch that sets one to null removes it.
  status.required = status.required.filter((field) => field !== 'rebalance');
  const baseline = status.properties.baseline;
  baseline.required = baseline.required.filter((field) => field !== 'pending');
  const pending = baseline.properties.pending;
  pending.properties.since.format = 'date-time';
  pending.properties.deadline.format = 'date-time';
}

function dropRequired(node) {
  if (node === null || typeof node !== 'object') return;
  delete node.required;
  for (const child of Object.values(node.properties ?? {})) dropRequired(child);
  if (node.items !== undefined) dropRequired(node.items);
}

function main() {
  const text = generateCrd();
  const check = process.argv.includes('--check');
  const stale = [];
  for (const file of CRD_FILES) {
    const target = path.join(root, file);
    let current = null;
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      // missing: stale
    }
    if (current === text) continue;
    if (check) stale.push(file);
    else {
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, text);
      console.log(`wrote ${file}`);
    }
  }
  if (stale.length > 0) {
    console.error(`stale: ${stale.join(', ')} — run \`npm run gen:crd\` and commit the result`);
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
