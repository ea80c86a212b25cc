import { describe, expect, it } from 'vitest';
import type { KubeObject } from './types.js';
import { containersOf, imageParts, relatedObjects, toWorkload } from './workloads.js';

const podSpec = {
  initContainers: [
    { name: 'migrate', image: 'migrate:1' },
    { name: 'proxy', image: 'envoy:1', restartPolicy: 'Always' },
  ],
  containers: [{ name: 'app', image: 'app:1' }, 'not a container', { name: 'log', image: 'log:1' }],
  ephemeralContainers: [{ name: 'debug', image: 'busybox' }],
};

function deployment(spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      ...spec,
      template: { metadata: { labels: { app: 'web', n: 3 }, annotations: { a: 'b' } }, spec: podSpec },
    },
  };
}

describe('toWorkload', () => {
  it('reads a Deployment: replicas, pod labels, pod spec and where it sits', () => {
    const workload = toWorkload(deployment({ replicas: 3 }));
    expect(workload).toMatchObject({
      ref: { kind: 'Deployment', namespace: 'shop', name: 'web' },
      replicas: 3,
      podLabels: { app: 'web' },
      podAnnotations: { a: 'b' },
      podSpecPath: 'spec.template.spec',
      longRunning: true,
    });
    expect(workload?.podSpec).toBe(podSpec);
  });

  it('counts an absent replicas field as 1, as the API server defaults it', () => {
    expect(toWorkload(deployment({}))?.replicas).toBe(1);
  });

  it('reads CronJobs, Jobs, Pods, DaemonSets and PodTemplates at their own paths', () => {
    const template = { metadata: { labels: { app: 'x' } }, spec: podSpec };
    const cases: [KubeObject, string, boolean][] = [
      [
        {
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          metadata: { name: 'c' },
          spec: { jobTemplate: { spec: { template } } },
        },
        'spec.jobTemplate.spec.template.spec',
        false,
      ],
      [
        { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template } },
        'spec.template.spec',
        false,
      ],
      [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { app: 'x' } }, spec: podSpec }, 'spec', true],
      [
        { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'd' }, spec: { template } },
        'spec.template.spec',
        true,
      ],
      [{ apiVersion: 'v1', kind: 'PodTemplate', metadata: { name: 't' }, template }, 'template.spec', true],
    ];
    for (const [object, path, longRunning] of cases) {
      const workload = toWorkload(object);
      expect(workload, object.kind).toMatchObject({ podSpecPath: path, longRunning, podLabels: { app: 'x' } });
      expect(workload?.replicas, object.kind).toBeUndefined();
      expect(workload?.podSpec).toBe(podSpec);
    }
  });

  it('is undefined for objects that are not workloads or have no pod spec', () => {
    expect(toWorkload({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: {} })).toBeUndefined();
    expect(
      toWorkload({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: {} }),
    ).toBeUndefined();
  });
});

describe('containersOf', () => {
  it('lists containers, init containers and ephemeral containers with their paths', () => {
    const workload = toWorkload(deployment({}));
    if (workload === undefined) throw new Error('no workload');
    const containers = containersOf(workload);
    expect(containers.map((c) => [c.name, c.list, c.path, c.longRunning])).toEqual([
      ['app', 'containers', 'spec.template.spec.containers[0]', true],
      ['log', 'containers', 'spec.template.spec.containers[2]', true],
      ['migrate', 'initContainers', 'spec.template.spec.initContainers[0]', false],
      ['proxy', 'initContainers', 'spec.template.spec.initContainers[1]', true],
      ['debug', 'ephemeralContainers', 'spec.template.spec.ephemeralContainers[0]', false],
    ]);
  });

  it('marks the containers of a Job as run-to-completion, its sidecars as long-running', () => {
    const job: KubeObject = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'j' },
      spec: { template: { spec: podSpec } },
    };
    const workload = toWorkload(job);
    if (workload === undefined) throw new Error('no workload');
    const byName = new Map(containersOf(workload).map((c) => [c.name, c.longRunning]));
    expect(byName.get('app')).toBe(false);
    expect(byName.get('proxy')).toBe(true);
  });
});

describe('relatedObjects', () => {
  it('finds objects by kind and namespace, objects without one in default', () => {
    const objects: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 'shop' } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'b' } },
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'c', namespace: 'shop' } },
    ];
    const related = relatedObjects(objects, true);
    expect(related.complete).toBe(true);
    expect(related.all).toBe(objects);
    expect(related.inNamespace('Service', 'shop').map((o) => o.metadata.name)).toEqual(['a']);
    expect(related.inNamespace('Service', 'default').map((o) => o.metadata.name)).toEqual(['b']);
    expect(related.inNamespace('NetworkPolicy', 'shop')).toEqual([]);
  });
});

describe('imageParts', () => {
  it.each([
    ['nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27' }],
    ['bitnami/redis:7', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7' }],
    ['docker.io/library/nginx:latest', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['ghcr.io/acme/api:v2', { registry: 'ghcr.io', repository: 'acme/api', tag: 'v2' }],
    ['registry.example.com:5000/team/app', { registry: 'registry.example.com:5000', repository: 'team/app' }],
    ['localhost/app:dev', { registry: 'localhost', repository: 'app', tag: 'dev' }],
    ['nginx@sha256:abc', { registry: 'docker.io', repository: 'library/nginx', digest: 'sha256:abc' }],
    [
      'quay.io/org/app:1.0@sha256:def',
      { registry: 'quay.io', repository: 'org/app', tag: '1.0', digest: 'sha256:def' },
    ],
  ])('%s', (image, parts) => {
    expect(imageParts(image)).toEqual(parts);
  });
});
