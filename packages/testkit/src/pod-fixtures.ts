import type { Container, Node, Pod } from '@niro/protocol';
import type { ClusterInventory } from './inventory.js';

/**
 * Hand-made inventory items for tests that set one condition on purpose (a crash loop, an
 * unready node, a pull error) rather than generate a whole cluster.
 */
export const testContainer = (over: Partial<Container> = {}): Container => ({
  name: 'app',
  image: 'registry.example.test/shop/api:1.4.2',
  ready: true,
  restarts: 0,
  state: 'running',
  requests: { cpuMilli: 100, memoryBytes: 128 * 1024 * 1024 },
  limits: { cpuMilli: 500, memoryBytes: 256 * 1024 * 1024 },
  probes: { liveness: true, readiness: true, startup: false },
  privileged: false,
  ...over,
});

/** A pod of namespace `shop` owned by the Deployment `owner`, with one container. */
export const testPod = (name: string, owner: string, c: Partial<Container> = {}): Pod => ({
  namespace: 'shop',
  name,
  uid: `uid-${name}`,
  phase: 'Running',
  nodeName: 'node-1',
  owner: { kind: 'Deployment', name: owner },
  startedAt: '2026-03-01T11:00:00Z',
  imagePullSecrets: [],
  containers: [testContainer(c)],
});

export const testNode = (name: string, ready = true): Node => ({
  name,
  ready,
  roles: [],
  kubeletVersion: 'v1.31.4+k3s1',
  capacity: { cpuMilli: 4000, memoryBytes: 8 * 1024 ** 3, pods: 110 },
  allocatable: { cpuMilli: 4000, memoryBytes: 8 * 1024 ** 3, pods: 110 },
  conditions: ready ? [] : [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown' }],
  unschedulable: false,
});

/** Container states for `testPod`'s third argument. */
export const CRASH_LOOPING: Partial<Container> = {
  ready: false,
  state: 'waiting',
  reason: 'CrashLoopBackOff',
  restarts: 7,
};
export const IMAGE_PULL_FAILING: Partial<Container> = { ready: false, state: 'waiting', reason: 'ImagePullBackOff' };

const isFirstAppPod = (inv: ClusterInventory): ((p: Pod, n: number) => boolean) => {
  const i = inv.pods.findIndex((p) => p.namespace !== 'kube-system');
  return (_p, n) => n === i;
};

/** The inventory with its first application pod in CrashLoopBackOff: a high pod_crash_looping incident. */
export function withCrashLoopingPod(inv: ClusterInventory): ClusterInventory {
  const first = isFirstAppPod(inv);
  return {
    ...inv,
    pods: inv.pods.map((p, n) =>
      !first(p, n)
        ? p
        : {
            ...p,
            containers: p.containers.map((c) => ({
              ...c,
              ready: false,
              state: 'waiting' as const,
              reason: 'CrashLoopBackOff',
              restarts: c.restarts + 6,
            })),
          },
    ),
  };
}

/** The inventory without its first application pod: the crash-looping one replaced and gone. */
export function withoutFirstAppPod(inv: ClusterInventory): ClusterInventory {
  const first = isFirstAppPod(inv);
  return { ...inv, pods: inv.pods.filter((p, n) => !first(p, n)) };
}

/** Replica counts of a managed Deployment's rollout, as its controller reports them. */
export type RolloutCounts = {
  /** metadata.generation, and observedGeneration unless `observed` says otherwise. */
  generation: number;
  observed?: number;
  replicas: number;
  updated: number;
  /** Ready and available replicas; the first `ready` pods are ready, the rest wait with `podReason`. */
  ready: number;
};

/**
 * A cluster running the Deployment `name` of a Niro deployment (labelled with its id) in
 * `namespace` at these counts, with one pod per replica: what an agent's heartbeat shows while a
 * revision rolls out.
 */
export function managedRollout(
  nodes: Node[],
  target: { namespace: string; name: string; deploymentId: string },
  counts: RolloutCounts,
  podReason?: string,
): ClusterInventory {
  const { namespace, name, deploymentId } = target;
  const pods: Pod[] = Array.from({ length: counts.replicas }, (_, i) => {
    const ready = i < counts.ready;
    const waiting: Partial<Container> =
      podReason === undefined
        ? { ready: false, state: 'waiting' }
        : { ready: false, state: 'waiting', reason: podReason };
    return {
      ...testPod(`${name}-${i}`, name, { name, image: 'nginx', ...(ready ? {} : waiting) }),
      namespace,
      uid: `uid-${name}-${deploymentId}-${i}`,
      phase: ready ? 'Running' : 'Pending',
    };
  });
  return {
    nodes,
    pods,
    workloads: [
      {
        kind: 'Deployment',
        namespace,
        name,
        replicas: counts.replicas,
        readyReplicas: counts.ready,
        updatedReplicas: counts.updated,
        availableReplicas: counts.ready,
        generation: counts.generation,
        observedGeneration: counts.observed ?? counts.generation,
        template: {},
        deploymentId,
      },
    ],
  };
}

/** Manifests of a small app, `web`: a Deployment of `image` and its Service, for deployment tests. */
export const webAppYaml = (image: string, options: { replicas?: number; deadlineSeconds?: number } = {}): string =>
  [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: web',
    'spec:',
    `  replicas: ${options.replicas ?? 2}`,
    `  progressDeadlineSeconds: ${options.deadlineSeconds ?? 600}`,
    '  selector: { matchLabels: { app: web } }',
    '  template:',
    '    metadata: { labels: { app: web } }',
    '    spec:',
    '      containers:',
    '        - name: web',
    `          image: ${image}`,
    '---',
    'apiVersion: v1',
    'kind: Service',
    'metadata:',
    '  name: web',
    'spec:',
    '  selector: { app: web }',
    '  ports: [{ port: 80 }]',
    '',
  ].join('\n');
