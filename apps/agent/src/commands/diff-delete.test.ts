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

describeWithKube('diff and delete against the local API server', (cluster: () => KubeCluster) => {
  let api: CountingApi;
  let context: CommandContext;
  beforeAll(() => {
    api = kubeApi(cluster().kubeconfig);
    context = testContext(api);
  });
  afterAll(() => api?.close());

  const run = (kind: 'apply' | 'diff' | 'delete', payload: Record<string, unknown>) =>
    executeCommand(command(kind, payload), context);
  const kubectl = (...args: string[]) => cluster().kubectl(args);

  it('reports hand edits as drift with the changed fields, and missing objects, without changing anything', async () => {
    const payload = { manifests: shopManifests({ namespace: 'drift' }), deploymentId: 'shop-2' };
    expect((await run('apply', payload)).status).toBe('succeeded');

    const clean = await run('diff', payload);
    expect(clean.status).toBe('succeeded');
    expect(actions(clean)).toEqual([
      'Namespace/drift unchanged',
      'ConfigMap/shop-settings unchanged',
      'Deployment/shop unchanged',
      'Service/shop unchanged',
    ]);

    await kubectl('scale', 'deployment', 'shop', '-n', 'drift', '--replicas=3');
    await kubectl('patch', 'configmap', 'shop-settings', '-n', 'drift', '-p', '{"data":{"mode":"edited"}}');
    // A label Niro does not manage is not drift.
    await kubectl('label', 'service', 'shop', '-n', 'drift', 'team=web');
    const writes = api.writes;
    const drifted = await run('diff', payload);
    expect(api.writes).toBe(writes);
    expect(drifted.status).toBe('succeeded');
    expect(objectsOf(drifted)).toEqual([
      { kind: 'Namespace', name: 'drift', action: 'unchanged' },
      { kind: 'ConfigMap', namespace: 'drift', name: 'shop-settings', action: 'drifted', fields: ['data.mode'] },
      { kind: 'Deployment', namespace: 'drift', name: 'shop', action: 'drifted', fields: ['spec.replicas'] },
      { kind: 'Service', namespace: 'drift', name: 'shop', action: 'unchanged' },
    ]);
    expect((await kubectl('get', 'deployment', 'shop', '-n', 'drift', '-o', 'jsonpath={.spec.replicas}')).stdout).toBe(
      '3',
    );

    await kubectl('delete', 'configmap', 'shop-settings', '-n', 'drift');
    const missing = await run('diff', payload);
    expect(objectsOf(missing)[1]).toEqual({
      kind: 'ConfigMap',
      namespace: 'drift',
      name: 'shop-settings',
      action: 'missing',
    });
  });

  it('deletes the objects of a deployment by its label, Namespace last, and is done when run again', async () => {
    const payload = { manifests: shopManifests({ namespace: 'gone' }), deploymentId: 'shop-3' };
    expect((await run('apply', payload)).status).toBe('succeeded');
    // Another deployment's object in the same cluster stays.
    await run('apply', {
      manifests: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: default}\n',
      deploymentId: 'other',
    });

    const deleted = await run('delete', { deploymentId: 'shop-3' });
    expect(deleted.status).toBe('succeeded');
    expect(actions(deleted).sort()).toEqual([
      'ConfigMap/shop-settings deleted',
      'Deployment/shop deleted',
      'Namespace/gone deleted',
      'Service/shop deleted',
    ]);
    expect(actions(deleted).at(-1)).toBe('Namespace/gone deleted');
    const left = await kubectl(
      'get',
      'configmap,deployment,service',
      '-A',
      '-l',
      'niro.dev/deployment-id in (shop-3,other)',
      '-o',
      'name',
    );
    expect(left.stdout.trim()).toBe('configmap/other');

    const again = await run('delete', { deploymentId: 'shop-3' });
    expect(again).toEqual({ status: 'succeeded', result: { objects: [] } });
  });

  it('deletes the objects a manifest names; an absent one is not an error', async () => {
    await kubectl('create', 'configmap', 'named', '-n', 'default');
    const manifests = [
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: named}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: never-existed}\n',
    ].join('---\n');
    const deleted = await run('delete', { manifests, namespace: 'default' });
    expect(deleted.status).toBe('succeeded');
    expect(objectsOf(deleted)).toEqual([
      { kind: 'ConfigMap', namespace: 'default', name: 'named', action: 'deleted' },
      {
        kind: 'ConfigMap',
        namespace: 'default',
        name: 'never-existed',
        action: 'deleted',
        message: 'was already absent',
      },
    ]);
    const check = await kubectl('get', 'configmap', 'named', '-n', 'default', '--ignore-not-found', '-o', 'name');
    expect(check.stdout).toBe('');
  });
});
