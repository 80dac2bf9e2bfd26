// Proves the manifest checker (support/schema-check.ts) that the chart tests rely on: it accepts a
// well-formed object, and it catches what the API server would reject or silently drop — an
// unknown field (a mis-indented template block), a wrong primitive type, a fractional integer, a
// null — naming the path of each; it maps kinds to the right models, group-qualified ones included.
import { describe, expect, it } from 'vitest';
import { checkObject, modelNameFor } from './support/schema-check.js';

function deployment(container: Record<string, unknown>, replicas: unknown = 2): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'op', namespace: 'ns', labels: { app: 'op' } },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'op' } },
      template: {
        metadata: { labels: { app: 'op' } },
        spec: { containers: [{ name: 'op', image: 'op:1', ports: [{ name: 'http', containerPort: 8080 }], ...container }] },
      },
    },
  };
}

describe('schema-check', () => {
  it('accepts a well-formed Deployment, int-or-string ports and quantities', () => {
    const probe = { httpGet: { path: '/healthz', port: 'http' } };
    const resources = { requests: { cpu: '50m', memory: '128Mi' } };
    expect(checkObject(deployment({ livenessProbe: probe, readinessProbe: { httpGet: { path: '/readyz', port: 8081 } }, resources }))).toEqual([]);
  });

  it('reports an unknown field with its path', () => {
    expect(checkObject(deployment({ imagePullPolicyy: 'Never' }))).toEqual([
      'Deployment ns/op: spec.template.spec.containers[0].imagePullPolicyy: unknown field of V1Container',
    ]);
    // A block indented one level too deep lands inside its neighbour.
    const misIndented = deployment({ securityContext: { runAsNonRoot: true, livenessProbe: { httpGet: { path: '/', port: 1 } } } });
    expect(checkObject(misIndented)).toEqual(['Deployment ns/op: spec.template.spec.containers[0].securityContext.livenessProbe: unknown field of V1SecurityContext']);
  });

  it('reports wrong primitive types, fractional integers and nulls', () => {
    expect(checkObject(deployment({}, '2'))).toEqual(['Deployment ns/op: spec.replicas: expected a number, got string "2"']);
    expect(checkObject(deployment({}, 1.5))).toEqual(['Deployment ns/op: spec.replicas: expected an integer (int32), got 1.5']);
    expect(checkObject(deployment({ args: 'operator' }))).toEqual(['Deployment ns/op: spec.template.spec.containers[0].args: expected an array (Array<string>), got string "operator"']);
    expect(checkObject(deployment({ args: ['--port', 8080] }))).toEqual(['Deployment ns/op: spec.template.spec.containers[0].args[1]: expected a string, got number 8080']);
    expect(checkObject(deployment({ env: null }))).toEqual(['Deployment ns/op: spec.template.spec.containers[0].env: null (expected Array<V1EnvVar>)']);
    expect(checkObject(deployment({ ports: [{ containerPort: 80.5 }] }))).toEqual(['Deployment ns/op: spec.template.spec.containers[0].ports[0].containerPort: expected an integer (int32), got 80.5']);
    expect(checkObject(deployment({ livenessProbe: { httpGet: { port: true } } }))).toEqual(['Deployment ns/op: spec.template.spec.containers[0].livenessProbe.httpGet.port: expected an integer or a string, got boolean true']);
  });

  it('maps kinds to models, group-qualified kinds included, and refuses kinds it has no model for', () => {
    expect(modelNameFor('apps/v1', 'Deployment')).toBe('V1Deployment');
    expect(modelNameFor('v1', 'Event')).toBe('CoreV1Event');
    expect(modelNameFor('events.k8s.io/v1', 'Event')).toBe('EventsV1Event');
    expect(modelNameFor('rbac.authorization.k8s.io/v1', 'ClusterRole')).toBe('V1ClusterRole');
    expect(modelNameFor('apiextensions.k8s.io/v1', 'CustomResourceDefinition')).toBe('V1CustomResourceDefinition');
    expect(modelNameFor('policy/v1', 'PodDisruptionBudget')).toBe('V1PodDisruptionBudget');
    expect(checkObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'm' } })).toEqual([
      'ServiceMonitor m: no client-node model for monitoring.coreos.com/v1 ServiceMonitor',
    ]);
    expect(checkObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} })).toEqual(['ConfigMap (no name): metadata.name: required']);
  });
});
