import { describe, expect, it } from 'vitest';
import { changedFields } from './field-diff.js';

const live = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'shop',
    labels: { app: 'shop', 'niro.dev/deployment-id': 'd1' },
    resourceVersion: '100',
    generation: 4,
    managedFields: [{ manager: 'kubectl' }],
    creationTimestamp: '2026-01-01T00:00:00Z',
  },
  spec: { replicas: 3, template: { spec: { containers: [{ name: 'web', image: 'nginx:1' }] } } },
  status: { readyReplicas: 3 },
};

describe('changedFields', () => {
  it('names the changed leaves with dotted paths, array indexes and bracketed label keys', () => {
    const desired = {
      ...live,
      metadata: { ...live.metadata, labels: { app: 'shop', 'niro.dev/deployment-id': 'd2' } },
      spec: { replicas: 1, template: { spec: { containers: [{ name: 'web', image: 'nginx:2' }] } } },
    };
    expect(changedFields(live, desired)).toEqual([
      'metadata.labels["niro.dev/deployment-id"]',
      'spec.replicas',
      'spec.template.spec.containers[0].image',
    ]);
  });

  it('ignores status and the metadata the API server maintains', () => {
    const desired = {
      ...live,
      metadata: { ...live.metadata, resourceVersion: '101', generation: 5, managedFields: [], creationTimestamp: 'x' },
      status: { readyReplicas: 0 },
    };
    expect(changedFields(live, desired)).toEqual([]);
  });

  it('reports an added or removed field, a longer list and a changed type at the path that differs', () => {
    const desired = {
      ...live,
      spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1' }, { name: 'side' }] } }, paused: 'no' },
    };
    expect(changedFields(live, desired)).toEqual(['spec.paused', 'spec.replicas', 'spec.template.spec.containers']);
    expect(changedFields({ a: { b: 1 } }, { a: [1] })).toEqual(['a']);
  });

  it('stops at the limit', () => {
    const a = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i]));
    const b = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i + 1]));
    expect(changedFields(a, b, 3)).toHaveLength(3);
  });
});
