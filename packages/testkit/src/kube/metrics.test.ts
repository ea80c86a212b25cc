import { expect, it } from 'vitest';
import { eventually, field, getRawItems } from './test-support/kube-json.js';
import { describeWithKube } from './vitest.js';

function cpuMillis(quantity: unknown): number {
  if (typeof quantity !== 'string') return Number.NaN;
  if (quantity.endsWith('n')) return Number(quantity.slice(0, -1)) / 1e6;
  if (quantity.endsWith('u')) return Number(quantity.slice(0, -1)) / 1e3;
  if (quantity.endsWith('m')) return Number(quantity.slice(0, -1));
  return Number(quantity) * 1000;
}

// A file of its own: metrics-server reports a new pod only after two or three scrapes 10 s apart, so this
// waits 10-30 s, in parallel with the other test files.
describeWithKube('local Kubernetes harness: metrics.k8s.io', (cluster) => {
  it('serves node usage and pod usage set by annotations', async () => {
    await cluster().apply(`
apiVersion: apps/v1
kind: Deployment
metadata: { name: busy, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: busy } }
  template:
    metadata:
      labels: { app: busy }
      annotations: { kwok.x-k8s.io/usage-cpu: 250m, kwok.x-k8s.io/usage-memory: 64Mi }
    spec:
      containers: [{ name: app, image: busybox:1.36 }]
`);
    const nodes = await eventually(
      'usage for every node',
      async () => {
        const items = await getRawItems(cluster(), '/apis/metrics.k8s.io/v1beta1/nodes');
        return items.length === 3 ? items : undefined;
      },
      45_000,
    );
    for (const node of nodes) {
      // Every node reports at least the harness's baseline for its own daemons (50m, 256Mi).
      expect(cpuMillis(field(node, 'usage', 'cpu'))).toBeGreaterThan(0);
      expect(field(node, 'usage', 'memory')).toEqual(expect.any(String));
    }

    const pods = await eventually(
      'usage for both busy pods',
      async () => {
        const items = await getRawItems(cluster(), '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods');
        const busy = items.filter((pod) => String(field(pod, 'metadata', 'name')).startsWith('busy-'));
        return busy.length === 2 ? busy : undefined;
      },
      45_000,
    );
    for (const pod of pods) {
      expect(field(pod, 'containers', 0, 'usage', 'memory')).toBe('64Mi');
      expect(cpuMillis(field(pod, 'containers', 0, 'usage', 'cpu'))).toBeCloseTo(250, -1);
    }
  }, 60_000);
});
