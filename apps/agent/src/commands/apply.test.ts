import type { KubeCluster } from '@niro/testkit/kube';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { executeCommand, type CommandContext } from './executor.js';
import {
  actions,
  command,
  kubeApi,
  objectsOf,
  shopManifests,
  testContext,
  type CountingApi,
} from './test-support/commands.js';

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.niro.dev
spec:
  group: example.niro.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
`;

describeWithKube('apply against the local API server', (cluster: () => KubeCluster) => {
  let api: CountingApi;
  let context: CommandContext;
  beforeAll(() => {
    api = kubeApi(cluster().kubeconfig);
    context = testContext(api);
  });
  afterAll(() => api?.close());

  const apply = (payload: Record<string, unknown>) => executeCommand(command('apply', payload), context);
  const kubectl = async (...args: string[]): Promise<string> => (await cluster().kubectl(args)).stdout.trim();

  it('creates a set, then reports unchanged, configured, and prunes what left the set', async () => {
    const deploymentId = 'shop-1';
    const created = await apply({ manifests: shopManifests({ namespace: 'shop' }), deploymentId });
    expect(created).toEqual({ status: 'succeeded', result: { objects: expect.any(Array) } });
    expect(actions(created)).toEqual([
      'Namespace/shop created',
      'ConfigMap/shop-settings created',
      'Deployment/shop created',
      'Service/shop created',
    ]);
    expect(objectsOf(created)[1]).toEqual({
      kind: 'ConfigMap',
      namespace: 'shop',
      name: 'shop-settings',
      action: 'created',
    });
    expect(
      await kubectl(
        'get',
        'configmap,deployment,service',
        '-n',
        'shop',
        '-l',
        `niro.dev/deployment-id=${deploymentId}`,
        '-o',
        'name',
      ),
    ).toBe(['configmap/shop-settings', 'deployment.apps/shop', 'service/shop'].join('\n'));

    const again = await apply({ manifests: shopManifests({ namespace: 'shop' }), deploymentId });
    expect(again.status).toBe('succeeded');
    expect(actions(again)).toEqual([
      'Namespace/shop unchanged',
      'ConfigMap/shop-settings unchanged',
      'Deployment/shop unchanged',
      'Service/shop unchanged',
    ]);

    const changed = await apply({ manifests: shopManifests({ namespace: 'shop', mode: 'slow' }), deploymentId });
    expect(actions(changed)).toEqual([
      'Namespace/shop unchanged',
      'ConfigMap/shop-settings configured',
      'Deployment/shop unchanged',
      'Service/shop unchanged',
    ]);
    expect(await kubectl('get', 'configmap', 'shop-settings', '-n', 'shop', '-o', 'jsonpath={.data.mode}')).toBe(
      'slow',
    );

    const neighbour = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: neighbour, namespace: shop}\n';
    expect((await apply({ manifests: neighbour, deploymentId: 'another' })).status).toBe('succeeded');
    const pruned = await apply({
      manifests: shopManifests({ namespace: 'shop', withConfigMap: false }),
      deploymentId,
      prune: true,
    });
    expect(pruned.status).toBe('succeeded');
    expect(actions(pruned)).toEqual([
      'Namespace/shop unchanged',
      'Deployment/shop unchanged',
      'Service/shop unchanged',
      'ConfigMap/shop-settings pruned',
    ]);
    expect(
      await kubectl('get', 'configmaps', '-n', 'shop', '-l', `niro.dev/deployment-id=${deploymentId}`, '-o', 'name'),
    ).toBe('');
    expect(await kubectl('get', 'configmap', 'neighbour', '-n', 'shop', '-o', 'name')).toBe('configmap/neighbour');
    // The Deployment's ReplicaSet and pods are not labelled with the deployment id and stay.
    expect(await kubectl('get', 'deployment', 'shop', '-n', 'shop', '-o', 'name')).toBe('deployment.apps/shop');
  });

  it('reports an invalid object as failed with the API message and the whole apply as partial', async () => {
    const manifests = `apiVersion: v1
kind: ConfigMap
metadata: {name: good, namespace: default}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: default}
spec:
  replicas: -1
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: example.invalid/v1
kind: Gadget
metadata: {name: g}
`;
    const result = await apply({ manifests });
    expect(result.status).toBe('partial');
    expect(result.error).toEqual({ code: 'objects_failed', message: '2 of 3 objects failed' });
    expect(objectsOf(result)).toEqual([
      { kind: 'ConfigMap', namespace: 'default', name: 'good', action: 'created' },
      {
        kind: 'Deployment',
        namespace: 'default',
        name: 'bad',
        action: 'failed',
        message: expect.stringContaining('spec.replicas: Invalid value: -1'),
      },
      {
        kind: 'Gadget',
        name: 'g',
        action: 'failed',
        message: 'the API server does not serve kind Gadget in example.invalid/v1',
      },
    ]);
    const onlyBad = await apply({ manifests: manifests.split('---\n')[1] ?? '' });
    expect(onlyBad.status).toBe('failed');
  });

  it('applies a CRD and its custom resource in one set, the CRD first', async () => {
    const widget = `apiVersion: example.niro.dev/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
`;
    const result = await apply({ manifests: [widget, CRD].join('---\n'), namespace: 'default' });
    expect(result.status).toBe('succeeded');
    expect(actions(result)).toEqual(['Widget/w1 created', 'CustomResourceDefinition/widgets.example.niro.dev created']);
    expect(await kubectl('get', 'widgets', 'w1', '-n', 'default', '-o', 'jsonpath={.spec.size}')).toBe('3');
    const again = await apply({ manifests: [widget, CRD].join('---\n'), namespace: 'default' });
    expect(actions(again)).toEqual([
      'Widget/w1 unchanged',
      'CustomResourceDefinition/widgets.example.niro.dev unchanged',
    ]);
  });

  it("puts namespaced objects without a namespace in the payload's namespace and ignores one on cluster-scoped objects", async () => {
    await cluster().kubectl(['create', 'namespace', 'fill-in']);
    const manifests = `apiVersion: v1
kind: ConfigMap
metadata: {name: placed}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: niro-test-reader, namespace: fill-in}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
`;
    const result = await apply({ manifests, namespace: 'fill-in' });
    expect(objectsOf(result)).toEqual([
      { kind: 'ConfigMap', namespace: 'fill-in', name: 'placed', action: 'created' },
      { kind: 'ClusterRole', name: 'niro-test-reader', action: 'created' },
    ]);
    expect(await kubectl('get', 'configmap', 'placed', '-n', 'fill-in', '-o', 'name')).toBe('configmap/placed');
  });
});
