// Proves that the KVClusters a user copies (manifests/examples/) and the kind end-to-end files are
// valid where the CRD cannot tell: the CRD keeps resources and scheduling as free-form Kubernetes
// structures (crd.test.ts checks the rest of the spec), so a typo there would only surface when the
// operator's StatefulSet is refused. They are checked against the Kubernetes models; spread
// constraints must select the pods the operator labels (else they silently spread nothing); and
// the e2e files must agree with each other and with the operator's object names (grace, client
// Service, zone label), since run.sh relies on them.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { KVCluster } from '@ballast/operator';
import { namesOf, selectorOf } from '../../packages/operator/dist/kubernetes/objects.js';
import { checkObject, checkValue } from './support/schema-check.js';

const E2E = 'test/e2e/kind';

function kvclusters(file: string): KVCluster[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((document) => document.toJS() as KVCluster | null)
    .filter((object): object is KVCluster => object?.kind === 'KVCluster');
}

/** Problems of the spec's Kubernetes pass-through fields, checked as the pod template will hold them. */
function passThroughProblems(cluster: KVCluster): string[] {
  const { resources, scheduling } = cluster.spec;
  const at = `${cluster.metadata.name}: spec`;
  const problems: string[] = [];
  if (resources !== undefined) problems.push(...checkValue(resources, 'V1ResourceRequirements', '', `${at}.resources`));
  if (scheduling !== undefined) {
    const { zoneLabel, nodeSelector, tolerations, affinity, topologySpreadConstraints, ...unknown } = scheduling;
    problems.push(...Object.keys(unknown).map((key) => `${at}.scheduling.${key}: unknown field`));
    if (zoneLabel !== undefined) problems.push(...checkValue(zoneLabel, 'string', '', `${at}.scheduling.zoneLabel`));
    if (nodeSelector !== undefined) problems.push(...checkValue(nodeSelector, '{ [key: string]: string; }', '', `${at}.scheduling.nodeSelector`));
    if (tolerations !== undefined) problems.push(...checkValue(tolerations, 'Array<V1Toleration>', '', `${at}.scheduling.tolerations`));
    if (affinity !== undefined) problems.push(...checkValue(affinity, 'V1Affinity', '', `${at}.scheduling.affinity`));
    if (topologySpreadConstraints !== undefined) {
      problems.push(...checkValue(topologySpreadConstraints, 'Array<V1TopologySpreadConstraint>', '', `${at}.scheduling.topologySpreadConstraints`));
    }
  }
  return problems;
}

describe('example KVClusters', () => {
  const files = [
    ...readdirSync('manifests/examples')
      .filter((file) => file.endsWith('.yaml'))
      .map((file) => path.join('manifests/examples', file)),
    path.join(E2E, 'kvcluster.yaml'),
  ];

  it('have valid Kubernetes resources and scheduling, spreading their own pods over the zone label backups are placed by', () => {
    const clusters = files.flatMap((file) => kvclusters(file));
    expect(clusters.map((cluster) => cluster.metadata.name)).toEqual(expect.arrayContaining(['dev', 'kv-small', 'kv-production', 'kv-e2e']));
    for (const cluster of clusters) {
      expect(passThroughProblems(cluster)).toEqual([]);
      const scheduling = cluster.spec.scheduling;
      for (const constraint of scheduling?.topologySpreadConstraints ?? []) {
        if (constraint['topologyKey'] !== 'kubernetes.io/hostname') expect(constraint['topologyKey'], cluster.metadata.name).toBe(scheduling?.zoneLabel);
        expect(constraint['labelSelector'], cluster.metadata.name).toEqual({ matchLabels: selectorOf(cluster) });
      }
    }
  });

  it('catch a mistake in a pass-through field (the check is not vacuous)', () => {
    const [production] = kvclusters('manifests/examples/kvcluster-production.yaml');
    const broken = structuredClone(production!);
    broken.spec.scheduling!.topologySpreadConstraints![0]!['maxskew'] = 1;
    broken.spec.resources = { requests: { cpu: 1 as unknown as string } };
    expect(passThroughProblems(broken)).toEqual([
      'kv-production: spec.resources.requests.cpu: expected a string, got number 1',
      'kv-production: spec.scheduling.topologySpreadConstraints[0].maxskew: unknown field of V1TopologySpreadConstraint',
    ]);
  });
});

describe('the kind end-to-end files', () => {
  const runScript = readFileSync(path.join(E2E, 'run.sh'), 'utf8');
  const [cluster] = kvclusters(path.join(E2E, 'kvcluster.yaml'));
  const setting = (name: string): string => runScript.match(new RegExp(`^${name}=(\\S+)$`, 'm'))?.[1] ?? `no ${name} in run.sh`;

  it('agree: run.sh’s cluster name and grace are the KVCluster’s, the Job targets the operator’s client Service', () => {
    expect(cluster!.metadata.name).toBe(setting('KV'));
    expect(`${cluster!.spec.baseline?.autoAdjust?.graceTimeout}`).toBe(`${setting('GRACE_SECONDS')}s`);
    const job = parse(readFileSync(path.join(E2E, 'client-load-job.yaml'), 'utf8')) as { spec: { template: { spec: { containers: Array<{ image: string; env: Array<{ name: string; value?: string }> }> } } } };
    expect(checkObject(job)).toEqual([]);
    const container = job.spec.template.spec.containers[0]!;
    expect(container.env.find((variable) => variable.name === 'HOST')?.value).toBe(namesOf(cluster!).client);
    expect(container.image).toBe(setting('REDIS_IMAGE'));
  });

  it('give the kind cluster three workers in three zones, labelled with the KVCluster’s zone label', () => {
    const kindConfig = parse(readFileSync(path.join(E2E, 'kind-config.yaml'), 'utf8')) as { nodes: Array<{ role: string; labels?: Record<string, string> }> };
    const workers = kindConfig.nodes.filter((node) => node.role === 'worker');
    const zoneLabel = cluster!.spec.scheduling!.zoneLabel!;
    expect(new Set(workers.map((worker) => worker.labels?.[zoneLabel])).size).toBe(3);
    expect(workers.every((worker) => worker.labels?.[zoneLabel] !== undefined)).toBe(true);
    expect(cluster!.spec.replicas).toBe(workers.length);
  });
});
