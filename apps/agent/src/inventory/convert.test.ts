import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { PolicyObject } from '@niro/protocol';
import {
  resolveOwner,
  toEventRecord,
  toNode,
  toOwnerLink,
  toPodRecord,
  toPolicyObject,
  toWorkload,
} from './convert.js';

// Objects shaped as the API server returns them (trimmed to the fields that matter).
const crashingPod = {
  metadata: {
    name: 'api-7d9f-x2',
    namespace: 'shop',
    uid: 'u1',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'api-7d9f', controller: true }],
  },
  spec: {
    nodeName: 'node-1',
    imagePullSecrets: [{ name: 'regcred' }],
    initContainers: [{ name: 'migrate', image: 'shop/migrate:2' }],
    containers: [
      {
        name: 'api',
        image: 'shop/api:2',
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
        livenessProbe: { httpGet: { path: '/healthz', port: 8080 } },
        securityContext: { privileged: true },
      },
      { name: 'sidecar', image: 'envoy:1.30' },
    ],
  },
  status: {
    phase: 'Running',
    startTime: '2026-11-25T10:00:00Z',
    initContainerStatuses: [
      { name: 'migrate', ready: true, restartCount: 0, state: { terminated: { reason: 'Completed', exitCode: 0 } } },
    ],
    containerStatuses: [
      {
        name: 'api',
        ready: false,
        restartCount: 7,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s' } },
        lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } },
      },
      { name: 'sidecar', ready: true, restartCount: 0, state: { running: { startedAt: '2026-11-25T10:00:05Z' } } },
    ],
  },
};

describe('converting API objects', () => {
  it('reads a crash-looping pod with its restarts, reasons, resources, probes and init containers', () => {
    const converted = toPodRecord(crashingPod);
    expect(converted?.key).toBe('shop/api-7d9f-x2');
    const pod = converted?.value.pod;
    expect(pod).toMatchObject({ phase: 'Running', nodeName: 'node-1', imagePullSecrets: ['regcred'] });
    expect(pod?.containers[0]).toEqual({
      name: 'api',
      image: 'shop/api:2',
      ready: false,
      restarts: 7,
      state: 'waiting',
      reason: 'CrashLoopBackOff',
      lastTerminationReason: 'OOMKilled',
      requests: { cpuMilli: 100, memoryBytes: 128 * 2 ** 20 },
      limits: { memoryBytes: 256 * 2 ** 20 },
      probes: { liveness: true, readiness: false, startup: false },
      privileged: true,
    });
    expect(pod?.containers[1]).toMatchObject({ name: 'sidecar', state: 'running', ready: true });
    expect(pod?.initContainers?.[0]).toMatchObject({ name: 'migrate', state: 'terminated', reason: 'Completed' });
  });

  it("resolves a pod's owner to the Deployment above its ReplicaSet, and a Job's pod to its CronJob", () => {
    const record = toPodRecord(crashingPod)?.value;
    if (record === undefined) throw new Error('not converted');
    const rs = toOwnerLink({
      metadata: {
        name: 'api-7d9f',
        namespace: 'shop',
        ownerReferences: [{ kind: 'Deployment', name: 'api', controller: true }],
      },
    });
    const replicaSets = new Map([[rs?.key ?? '', rs?.value ?? null]]);
    expect(resolveOwner(record, replicaSets, new Map()).owner).toEqual({ kind: 'Deployment', name: 'api' });
    // Before its ReplicaSet is known, the pod names the ReplicaSet rather than nothing.
    expect(resolveOwner(record, new Map(), new Map()).owner).toEqual({ kind: 'ReplicaSet', name: 'api-7d9f' });

    const jobPod = toPodRecord({
      metadata: {
        name: 'backup-29-abc',
        namespace: 'ops',
        ownerReferences: [{ kind: 'Job', name: 'backup-29', controller: true }],
      },
      spec: { containers: [] },
    })?.value;
    if (jobPod === undefined) throw new Error('not converted');
    const jobs = new Map([['ops/backup-29', { kind: 'CronJob', name: 'backup' }]]);
    expect(resolveOwner(jobPod, new Map(), jobs).owner).toEqual({ kind: 'CronJob', name: 'backup' });
  });

  it('reports only unhealthy node conditions, and roles from labels', () => {
    const node = toNode({
      metadata: {
        name: 'n1',
        labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/master': 'true' },
      },
      spec: { unschedulable: true },
      status: {
        capacity: { cpu: '4', memory: '8Gi', pods: '110' },
        allocatable: { cpu: '3800m', memory: '7Gi', pods: '110' },
        nodeInfo: { kubeletVersion: 'v1.35.8+k3s1' },
        conditions: [
          { type: 'MemoryPressure', status: 'False', lastHeartbeatTime: '2026-11-25T10:00:00Z' },
          { type: 'DiskPressure', status: 'True', reason: 'KubeletHasDiskPressure', message: 'disk 92% full' },
          { type: 'Ready', status: 'True', lastHeartbeatTime: '2026-11-25T10:00:00Z' },
        ],
      },
    })?.value;
    expect(node).toEqual({
      name: 'n1',
      ready: true,
      roles: ['control-plane', 'master'],
      kubeletVersion: 'v1.35.8+k3s1',
      capacity: { cpuMilli: 4000, memoryBytes: 8 * 2 ** 30, pods: 110 },
      allocatable: { cpuMilli: 3800, memoryBytes: 7 * 2 ** 30, pods: 110 },
      conditions: [
        { type: 'DiskPressure', status: 'True', reason: 'KubeletHasDiskPressure', message: 'disk 92% full' },
      ],
      unschedulable: true,
    });
  });

  it("reads a DaemonSet's replica counts from its scheduling status and keeps its template", () => {
    const ds = toWorkload('DaemonSet', {
      metadata: { name: 'agent', namespace: 'kube-system', generation: 3, labels: { 'niro.dev/deployment-id': 'd-1' } },
      spec: { template: { metadata: { creationTimestamp: null, labels: { app: 'agent' } }, spec: { containers: [] } } },
      status: {
        desiredNumberScheduled: 3,
        numberReady: 2,
        updatedNumberScheduled: 3,
        numberAvailable: 2,
        observedGeneration: 3,
      },
    });
    expect(ds).toEqual({
      key: 'DaemonSet/kube-system/agent',
      value: {
        kind: 'DaemonSet',
        namespace: 'kube-system',
        name: 'agent',
        replicas: 3,
        readyReplicas: 2,
        updatedReplicas: 3,
        availableReplicas: 2,
        generation: 3,
        observedGeneration: 3,
        template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [] } },
        deploymentId: 'd-1',
      },
    });
  });

  it('reads Warning events in both the classic and the series form, and drops Normal ones', () => {
    expect(toEventRecord({ metadata: { name: 'e0', namespace: 'shop' }, type: 'Normal', reason: 'Pulled' })).toBeNull();
    const series = toEventRecord({
      metadata: { name: 'e1', namespace: 'shop', creationTimestamp: '2026-11-25T10:00:00Z' },
      type: 'Warning',
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
      involvedObject: { kind: 'Pod', name: 'api-1', namespace: 'shop' },
      eventTime: '2026-11-25T10:00:00.000000Z',
      series: { count: 12, lastObservedTime: '2026-11-25T10:05:00.000000Z' },
    });
    expect(series?.value.event).toEqual({
      namespace: 'shop',
      involvedObject: { kind: 'Pod', name: 'api-1' },
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
      count: 12,
      firstTimestamp: '2026-11-25T10:00:00.000000Z',
      lastTimestamp: '2026-11-25T10:05:00.000000Z',
    });
    expect(series?.value.at).toBe(Date.parse('2026-11-25T10:05:00Z'));
  });
});

// As the API server returns them: metadata noise, defaults and status included.
const metadataNoise = {
  uid: 'u',
  resourceVersion: '812',
  creationTimestamp: '2026-11-25T10:00:00Z',
  managedFields: [{}],
};

describe('converting policy objects', () => {
  it('keeps of a Service its selector, ports and type, never its cluster IP or load-balancer status', () => {
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'api', namespace: 'shop', labels: { app: 'api' }, annotations: { a: 'b' }, ...metadataNoise },
      spec: {
        selector: { app: 'api' },
        ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 31000 }],
        type: 'LoadBalancer',
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10'],
        sessionAffinity: 'None',
      },
      status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } },
    };
    const converted = toPolicyObject('Service', service);
    expect(converted).toEqual({
      key: 'Service/shop/api',
      value: {
        kind: 'Service',
        namespace: 'shop',
        name: 'api',
        labels: { app: 'api' },
        spec: {
          selector: { app: 'api' },
          ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 31000 }],
          type: 'LoadBalancer',
        },
      },
    });
    expect(Value.Check(PolicyObject, converted?.value)).toBe(true);
    const withOtherStatus = { ...service, status: { loadBalancer: { ingress: [{ ip: '203.0.113.8' }] } } };
    expect(toPolicyObject('Service', withOtherStatus)).toEqual(converted);
  });

  it('keeps of a PodDisruptionBudget its selector and budget, and drops empty labels', () => {
    const pdb = {
      metadata: { name: 'api', namespace: 'shop', labels: {}, ...metadataNoise },
      spec: {
        selector: { matchLabels: { app: 'api' } },
        minAvailable: '50%',
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
      status: { currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1, expectedPods: 2 },
    };
    expect(toPolicyObject('PodDisruptionBudget', pdb)?.value).toEqual({
      kind: 'PodDisruptionBudget',
      namespace: 'shop',
      name: 'api',
      spec: { selector: { matchLabels: { app: 'api' } }, minAvailable: '50%' },
    });
  });

  it('keeps of a HorizontalPodAutoscaler its target and bounds; its status never changes the result', () => {
    const hpa = (currentReplicas: number) => ({
      metadata: { name: 'api', namespace: 'shop', ...metadataNoise },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' },
        minReplicas: 2,
        maxReplicas: 10,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
        ],
        behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
      },
      status: {
        currentReplicas,
        desiredReplicas: currentReplicas,
        lastScaleTime: `2026-11-25T10:0${currentReplicas}:00Z`,
      },
    });
    const converted = toPolicyObject('HorizontalPodAutoscaler', hpa(2));
    expect(converted?.value).toEqual({
      kind: 'HorizontalPodAutoscaler',
      namespace: 'shop',
      name: 'api',
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' },
        minReplicas: 2,
        maxReplicas: 10,
      },
    });
    expect(toPolicyObject('HorizontalPodAutoscaler', hpa(7))).toEqual(converted);
  });

  it('keeps of a NetworkPolicy its pod selector and policy types, defaulting them as the API server does', () => {
    const policy = (spec: Record<string, unknown>) => ({ metadata: { name: 'deny', namespace: 'shop' }, spec });
    const ingress = [{ from: [{ podSelector: {} }] }];
    expect(
      toPolicyObject('NetworkPolicy', policy({ podSelector: {}, policyTypes: ['Ingress'], ingress }))?.value,
    ).toEqual({
      kind: 'NetworkPolicy',
      namespace: 'shop',
      name: 'deny',
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    });
    const egressOnly = policy({ podSelector: { matchLabels: { app: 'api' } }, egress: [{ to: [] }] });
    expect(toPolicyObject('NetworkPolicy', egressOnly)?.value.spec).toEqual({
      podSelector: { matchLabels: { app: 'api' } },
      policyTypes: ['Ingress', 'Egress'],
    });
  });

  it('keeps of a ServiceAccount automountServiceAccountToken and the names of its pull secrets, and no spec', () => {
    const account = {
      metadata: { name: 'builder', namespace: 'ci', labels: { team: 'ci' }, ...metadataNoise },
      automountServiceAccountToken: false,
      imagePullSecrets: [{ name: 'ghcr' }, { name: '' }, {}],
      secrets: [{ name: 'builder-token-x1' }],
    };
    const converted = toPolicyObject('ServiceAccount', account);
    expect(converted).toEqual({
      key: 'ServiceAccount/ci/builder',
      value: {
        kind: 'ServiceAccount',
        namespace: 'ci',
        name: 'builder',
        labels: { team: 'ci' },
        automountServiceAccountToken: false,
        imagePullSecrets: ['ghcr'],
      },
    });
    expect(Value.Check(PolicyObject, converted?.value)).toBe(true);
    expect(toPolicyObject('ServiceAccount', { metadata: { name: 'default', namespace: 'ci' } })?.value).toEqual({
      kind: 'ServiceAccount',
      namespace: 'ci',
      name: 'default',
    });
  });

  it('drops an object without a name or namespace', () => {
    expect(toPolicyObject('Service', { metadata: { name: 'x' } })).toBeNull();
    expect(toPolicyObject('ServiceAccount', { metadata: { namespace: 'x' } })).toBeNull();
  });
});
