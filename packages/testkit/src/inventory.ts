import { canonicalJson, hashInventory } from '@niro/protocol/inventory-hash';
import {
  INVENTORY_LIMITS,
  podKey,
  workloadKey,
  type Capabilities,
  type Container,
  type DeltaInventory,
  type FullInventory,
  type Heartbeat,
  type Inventory,
  type KubeEvent,
  type Node,
  type Pod,
  type PolicyObject,
  type SameInventory,
  type Workload,
} from '@niro/protocol';
import { generateClusterProfile, type ClusterFlavor } from './names.js';
import { createRng, type Rng, type Seed } from './rng.js';

/**
 * What an agent reports about one cluster: the inventory lists of a heartbeat. `objects` (policy
 * objects) only for an agent that reports them; absent, the inventory is sent and hashed exactly
 * as by an agent from before they existed.
 */
export type ClusterInventory = { nodes: Node[]; pods: Pod[]; workloads: Workload[]; objects?: PolicyObject[] };

export type InventoryOptions = {
  nodes: number;
  /** Exact number of pods, k3s system pods included. */
  pods: number;
  seed: Seed;
  /** Share of application pods in CrashLoopBackOff (0..1). */
  crashloopRate?: number;
  /** Share of application pods stuck in ImagePullBackOff/ErrImagePull (0..1). */
  imagePullErrorRate?: number;
  /** Share of application pods that cannot be scheduled (0..1). */
  pendingRate?: number;
  /** Node name prefix (`<clusterName>-worker-2`); drawn from the seed when absent. */
  clusterName?: string;
  /** Decides which applications run (shop, factory, homelab…); drawn from the name when absent. */
  flavor?: ClusterFlavor;
  kubernetesVersion?: string;
  /** Reference time for start times; a fixed default keeps the output a pure function of the seed. */
  now?: number;
};

export const DEFAULT_INVENTORY_NOW = Date.parse('2026-03-01T12:00:00Z');
export const SIMULATED_AGENT_VERSION = '0.1.0';
export const DEFAULT_CAPABILITIES: Capabilities = { pods: true, logs: false, apply: false, selfUpdate: false };

const K3S_VERSIONS = ['v1.31.1+k3s1', 'v1.31.2+k3s1', 'v1.31.4+k3s1', 'v1.31.5+k3s1', 'v1.31.6+k3s1'];
/** Kubernetes' alphabet for generated names (no vowels, no look-alikes). */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const Mi = 1024 * 1024;
const Gi = 1024 * Mi;

// ---------------------------------------------------------------------------------------------
// Application catalogue

type ContainerSpec = {
  name: string;
  image: string;
  port?: number;
  cpuMilli: number;
  memoryBytes: number;
  /** Which probes the manifest declares. */
  probes: 'all' | 'liveness-readiness' | 'liveness' | 'none';
  privileged?: boolean;
  args?: string[];
};

type AppSpec = {
  name: string;
  kind: Workload['kind'];
  namespace: string;
  flavors: readonly (ClusterFlavor | 'any')[];
  replicas: [number, number];
  containers: ContainerSpec[];
  initContainers?: ContainerSpec[];
  pullSecret?: string;
};

const c = (
  name: string,
  image: string,
  cpuMilli: number,
  memoryMi: number,
  extra: Partial<ContainerSpec> = {},
): ContainerSpec => ({ name, image, cpuMilli, memoryBytes: memoryMi * Mi, probes: 'liveness-readiness', ...extra });

const SYSTEM_APPS: AppSpec[] = [
  {
    name: 'coredns',
    kind: 'Deployment',
    namespace: 'kube-system',
    flavors: ['any'],
    replicas: [1, 1],
    containers: [c('coredns', 'rancher/mirrored-coredns-coredns:1.11.3', 100, 70, { port: 53 })],
  },
  {
    name: 'metrics-server',
    kind: 'Deployment',
    namespace: 'kube-system',
    flavors: ['any'],
    replicas: [1, 1],
    containers: [c('metrics-server', 'rancher/mirrored-metrics-server:v0.7.2', 100, 70, { port: 10250 })],
  },
  {
    name: 'local-path-provisioner',
    kind: 'Deployment',
    namespace: 'kube-system',
    flavors: ['any'],
    replicas: [1, 1],
    containers: [c('local-path-provisioner', 'rancher/local-path-provisioner:v0.0.30', 0, 0, { probes: 'none' })],
  },
  {
    name: 'traefik',
    kind: 'Deployment',
    namespace: 'kube-system',
    flavors: ['any'],
    replicas: [1, 1],
    containers: [c('traefik', 'rancher/mirrored-library-traefik:2.11.10', 0, 0, { port: 8000 })],
  },
];

const APPS: AppSpec[] = [
  {
    name: 'api',
    kind: 'Deployment',
    namespace: 'apps',
    flavors: ['any'],
    replicas: [2, 4],
    containers: [c('api', 'ghcr.io/acme/api:1.4.2', 250, 256, { port: 8080 })],
    initContainers: [c('migrate', 'ghcr.io/acme/api:1.4.2', 100, 128, { probes: 'none', args: ['migrate'] })],
    pullSecret: 'ghcr-acme',
  },
  {
    name: 'web',
    kind: 'Deployment',
    namespace: 'apps',
    flavors: ['any'],
    replicas: [1, 3],
    containers: [c('nginx', 'nginx:1.27', 50, 64, { port: 80 })],
  },
  {
    name: 'frontend',
    kind: 'Deployment',
    namespace: 'apps',
    flavors: ['shop', 'cloud', 'staging', 'dev'],
    replicas: [2, 3],
    containers: [c('frontend', 'ghcr.io/acme/frontend:3.2.0', 100, 128, { port: 3000 })],
    pullSecret: 'ghcr-acme',
  },
  {
    name: 'worker',
    kind: 'Deployment',
    namespace: 'apps',
    flavors: ['any'],
    replicas: [1, 4],
    containers: [c('worker', 'ghcr.io/acme/worker:2.0.1', 200, 384, { probes: 'liveness' })],
    pullSecret: 'ghcr-acme',
  },
  {
    name: 'checkout',
    kind: 'Deployment',
    namespace: 'shop',
    flavors: ['shop'],
    replicas: [2, 3],
    containers: [c('checkout', 'ghcr.io/acme/checkout:0.18.3', 200, 256, { port: 8080, probes: 'all' })],
    pullSecret: 'ghcr-acme',
  },
  {
    name: 'pos-sync',
    kind: 'Deployment',
    namespace: 'shop',
    flavors: ['shop'],
    replicas: [1, 1],
    containers: [c('pos-sync', 'ghcr.io/acme/pos-sync:latest', 100, 128, { probes: 'liveness' })],
    pullSecret: 'ghcr-acme',
  },
  {
    name: 'inventory-sync',
    kind: 'Deployment',
    namespace: 'shop',
    flavors: ['shop', 'cloud'],
    replicas: [1, 2],
    containers: [c('inventory-sync', 'registry.gitlab.com/acme/inventory-sync:2.3.0', 100, 192)],
  },
  {
    name: 'postgres',
    kind: 'StatefulSet',
    namespace: 'data',
    flavors: ['any'],
    replicas: [1, 3],
    containers: [
      c('postgres', 'postgres:16.4', 500, 1024, { port: 5432 }),
      c('metrics', 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0', 50, 64, { port: 9187 }),
    ],
  },
  {
    name: 'redis',
    kind: 'StatefulSet',
    namespace: 'data',
    flavors: ['any'],
    replicas: [1, 1],
    containers: [c('redis', 'redis:7.4', 100, 256, { port: 6379 })],
  },
  {
    name: 'rabbitmq',
    kind: 'StatefulSet',
    namespace: 'data',
    flavors: ['cloud', 'factory', 'staging'],
    replicas: [1, 3],
    containers: [c('rabbitmq', 'rabbitmq:3.13-management', 300, 512, { port: 5672 })],
  },
  {
    name: 'minio',
    kind: 'StatefulSet',
    namespace: 'data',
    flavors: ['edge', 'factory', 'homelab'],
    replicas: [1, 1],
    containers: [c('minio', 'quay.io/minio/minio:RELEASE.2024-10-02T17-50-41Z', 250, 512, { port: 9000 })],
  },
  {
    name: 'mosquitto',
    kind: 'Deployment',
    namespace: 'iot',
    flavors: ['edge', 'factory', 'homelab'],
    replicas: [1, 1],
    containers: [c('mosquitto', 'eclipse-mosquitto:2.0.18', 50, 32, { port: 1883, probes: 'liveness' })],
  },
  {
    name: 'node-red',
    kind: 'Deployment',
    namespace: 'iot',
    flavors: ['edge', 'homelab'],
    replicas: [1, 1],
    containers: [c('node-red', 'nodered/node-red:latest', 100, 256, { port: 1880, probes: 'none' })],
  },
  {
    name: 'telegraf',
    kind: 'Deployment',
    namespace: 'iot',
    flavors: ['edge', 'factory'],
    replicas: [1, 2],
    containers: [c('telegraf', 'telegraf:1.32', 100, 128, { probes: 'none' })],
  },
  {
    name: 'influxdb',
    kind: 'StatefulSet',
    namespace: 'iot',
    flavors: ['edge', 'factory', 'homelab'],
    replicas: [1, 1],
    containers: [c('influxdb', 'influxdb:2.7', 250, 512, { port: 8086 })],
  },
  {
    name: 'vision-inference',
    kind: 'Deployment',
    namespace: 'factory',
    flavors: ['factory'],
    replicas: [1, 3],
    containers: [c('inference', 'ghcr.io/acme/vision-inference:0.9.3', 1000, 2048, { port: 8500, probes: 'all' })],
    pullSecret: 'ghcr-acme',
  },
  {
    name: 'plc-gateway',
    kind: 'Deployment',
    namespace: 'factory',
    flavors: ['factory'],
    replicas: [1, 1],
    containers: [c('plc-gateway', 'ghcr.io/acme/plc-gateway:1.1.0', 100, 128, { privileged: true })],
    pullSecret: 'ghcr-acme',
  },
  {
    name: 'camera-ingest',
    kind: 'Deployment',
    namespace: 'factory',
    flavors: ['factory', 'edge'],
    replicas: [1, 2],
    containers: [c('camera-ingest', 'ghcr.io/acme/camera-ingest:latest', 300, 256, { port: 8554 })],
    pullSecret: 'ghcr-acme',
  },
  {
    name: 'home-assistant',
    kind: 'StatefulSet',
    namespace: 'home',
    flavors: ['homelab'],
    replicas: [1, 1],
    containers: [c('home-assistant', 'ghcr.io/home-assistant/home-assistant:2024.10.4', 250, 512, { port: 8123 })],
  },
  {
    name: 'pihole',
    kind: 'Deployment',
    namespace: 'home',
    flavors: ['homelab'],
    replicas: [1, 1],
    containers: [c('pihole', 'pihole/pihole:2024.07.0', 100, 128, { port: 80 })],
  },
  {
    name: 'keycloak',
    kind: 'Deployment',
    namespace: 'auth',
    flavors: ['cloud', 'staging'],
    replicas: [1, 2],
    containers: [c('keycloak', 'quay.io/keycloak/keycloak:25.0.6', 500, 768, { port: 8080, probes: 'all' })],
  },
  {
    name: 'grafana',
    kind: 'Deployment',
    namespace: 'monitoring',
    flavors: ['any'],
    replicas: [1, 1],
    containers: [c('grafana', 'grafana/grafana:11.2.0', 100, 192, { port: 3000 })],
  },
  {
    name: 'prometheus',
    kind: 'StatefulSet',
    namespace: 'monitoring',
    flavors: ['any'],
    replicas: [1, 1],
    containers: [
      c('prometheus', 'quay.io/prometheus/prometheus:v2.54.1', 300, 1024, { port: 9090 }),
      c('config-reloader', 'quay.io/prometheus-operator/prometheus-config-reloader:v0.76.0', 10, 32, {
        probes: 'none',
      }),
    ],
  },
  {
    name: 'node-exporter',
    kind: 'DaemonSet',
    namespace: 'monitoring',
    flavors: ['any'],
    replicas: [1, 1],
    containers: [c('node-exporter', 'quay.io/prometheus/node-exporter:v1.8.2', 50, 48, { port: 9100 })],
  },
  {
    name: 'fluent-bit',
    kind: 'DaemonSet',
    namespace: 'logging',
    flavors: ['any'],
    replicas: [1, 1],
    containers: [c('fluent-bit', 'cr.fluentbit.io/fluent/fluent-bit:3.1.9', 50, 64, { port: 2020 })],
  },
];

// ---------------------------------------------------------------------------------------------
// Generation

type PodHealth = 'running' | 'crashloop' | 'image-pull' | 'pending' | 'completed';

type Variation = {
  requests: boolean;
  limits: boolean;
  probes: boolean;
  pullSecret: boolean;
  revisionHistoryLimit: number;
};

const cpuQuantity = (milli: number): string => (milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`);
const memoryQuantity = (bytes: number): string =>
  bytes % Gi === 0 ? `${bytes / Gi}Gi` : `${Math.round(bytes / Mi)}Mi`;
const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function flavorFromName(name: string): ClusterFlavor {
  for (const f of ['edge', 'shop', 'factory', 'staging', 'dev'] as const) {
    if (name.startsWith(`${f}-`) || name.includes(`-${f}-`)) return f;
  }
  if (/(^|-)vm-/.test(name)) return 'cloud';
  if (/homelab|pi-cluster|nuc|rack|garage/.test(name)) return 'homelab';
  return 'cloud';
}

function containerTemplate(spec: ContainerSpec, v: Variation): Record<string, unknown> {
  const resources: Record<string, unknown> = {};
  const hasRequests = v.requests && spec.cpuMilli > 0;
  if (hasRequests) {
    resources.requests = { cpu: cpuQuantity(spec.cpuMilli), memory: memoryQuantity(spec.memoryBytes) };
  }
  if (hasRequests && v.limits) resources.limits = { memory: memoryQuantity(spec.memoryBytes * 2) };
  const out: Record<string, unknown> = {
    name: spec.name,
    image: spec.image,
    imagePullPolicy: spec.image.endsWith(':latest') ? 'Always' : 'IfNotPresent',
    resources,
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  };
  if (spec.args) out.args = spec.args;
  if (spec.port !== undefined) out.ports = [{ containerPort: spec.port, protocol: 'TCP' }];
  const probe =
    spec.port !== undefined
      ? { tcpSocket: { port: spec.port }, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 }
      : { exec: { command: ['/bin/sh', '-c', 'test -f /tmp/healthy'] }, periodSeconds: 30 };
  const p = containerProbes(spec, v);
  if (p.liveness) out.livenessProbe = probe;
  if (p.readiness) out.readinessProbe = probe;
  if (p.startup) out.startupProbe = { ...probe, failureThreshold: 30 };
  if (spec.privileged) out.securityContext = { privileged: true };
  return out;
}

function containerProbes(spec: ContainerSpec, v: Variation): Container['probes'] {
  if (!v.probes || spec.probes === 'none') return { liveness: false, readiness: false, startup: false };
  return {
    liveness: true,
    readiness: spec.probes !== 'liveness',
    startup: spec.probes === 'all',
  };
}

function containerResources(spec: ContainerSpec, v: Variation): Pick<Container, 'requests' | 'limits'> {
  const hasRequests = v.requests && spec.cpuMilli > 0;
  return {
    requests: hasRequests ? { cpuMilli: spec.cpuMilli, memoryBytes: spec.memoryBytes } : {},
    limits: hasRequests && v.limits ? { memoryBytes: spec.memoryBytes * 2 } : {},
  };
}

function podTemplate(app: AppSpec, v: Variation): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    containers: app.containers.map((s) => containerTemplate(s, v)),
    restartPolicy: 'Always',
    dnsPolicy: 'ClusterFirst',
    serviceAccountName: app.namespace === 'kube-system' ? app.name : 'default',
    terminationGracePeriodSeconds: 30,
  };
  if (app.initContainers) spec.initContainers = app.initContainers.map((s) => containerTemplate(s, v));
  if (app.pullSecret && v.pullSecret) spec.imagePullSecrets = [{ name: app.pullSecret }];
  return {
    metadata: {
      labels: { app: app.name, 'app.kubernetes.io/name': app.name, 'app.kubernetes.io/part-of': app.namespace },
    },
    spec,
  };
}

function makeContainer(
  rng: Rng,
  spec: ContainerSpec,
  v: Variation,
  health: PodHealth,
  main: boolean,
  ageMs: number,
): Container {
  const base = {
    name: spec.name,
    image: spec.image,
    probes: containerProbes(spec, v),
    privileged: spec.privileged === true,
    ...containerResources(spec, v),
  };
  const affected = main && health !== 'running' && health !== 'completed';
  if (health === 'completed') {
    return { ...base, ready: false, restarts: 0, state: 'terminated', reason: 'Completed' };
  }
  if (affected && health === 'crashloop') {
    return {
      ...base,
      ready: false,
      restarts: rng.int(3, 180),
      state: 'waiting',
      reason: 'CrashLoopBackOff',
      lastTerminationReason: rng.chance(0.25) ? 'OOMKilled' : 'Error',
    };
  }
  if (affected && health === 'image-pull') {
    return {
      ...base,
      ready: false,
      restarts: 0,
      state: 'waiting',
      reason: rng.pick(['ImagePullBackOff', 'ErrImagePull']),
    };
  }
  if (health === 'pending')
    return { ...base, ready: false, restarts: 0, state: 'waiting', reason: 'ContainerCreating' };
  // Older pods have had more chances to restart.
  const restarted = rng.chance(ageMs > 7 * 86_400_000 ? 0.15 : 0.05);
  const container: Container = { ...base, ready: true, restarts: restarted ? rng.int(1, 4) : 0, state: 'running' };
  if (restarted) container.lastTerminationReason = rng.chance(0.3) ? 'OOMKilled' : 'Error';
  return container;
}

type PlannedWorkload = { app: AppSpec; replicas: number; system: boolean };

/** Realistic k3s inventory for one cluster; the same options always give the same inventory. */
export function generateClusterInventory(options: InventoryOptions): ClusterInventory {
  const nodeCount = Math.max(1, Math.floor(options.nodes));
  const podCount = Math.max(0, Math.floor(options.pods));
  const rng = createRng(options.seed);
  const now = options.now ?? DEFAULT_INVENTORY_NOW;
  const clusterName = options.clusterName ?? generateClusterProfile(rng.fork('profile')).name;
  const flavor = options.flavor ?? flavorFromName(clusterName);
  const version = options.kubernetesVersion ?? rng.pick(K3S_VERSIONS);
  const rates = {
    crashloop: options.crashloopRate ?? 0,
    imagePull: options.imagePullErrorRate ?? 0,
    pending: options.pendingRate ?? 0,
  };

  // Nodes: one k3s server (three from five nodes on, for an HA control plane), the rest agents.
  const servers = nodeCount >= 5 ? 3 : 1;
  const hardware = rng.pick([
    { cpuMilli: 4000, memoryBytes: 4 * Gi },
    { cpuMilli: 4000, memoryBytes: 8 * Gi },
    { cpuMilli: 4000, memoryBytes: 16 * Gi },
    { cpuMilli: 8000, memoryBytes: 32 * Gi },
    { cpuMilli: 16000, memoryBytes: 64 * Gi },
  ]);
  const nodes: Node[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const server = i < servers;
    // Real machines report slightly less memory than the label on the box.
    const memoryBytes = hardware.memoryBytes - rng.int(180, 420) * Mi;
    nodes.push({
      name: server ? `${clusterName}-server-${i + 1}` : `${clusterName}-worker-${i - servers + 1}`,
      ready: true,
      roles: server ? (servers > 1 ? ['control-plane', 'etcd', 'master'] : ['control-plane', 'master']) : [],
      kubeletVersion: version,
      capacity: { cpuMilli: hardware.cpuMilli, memoryBytes, pods: 110 },
      allocatable: { cpuMilli: hardware.cpuMilli, memoryBytes: memoryBytes - 100 * Mi, pods: 110 },
      conditions: [],
      unschedulable: false,
    });
  }
  const workers = nodes.filter((n) => n.roles.length === 0);
  const schedulable = (system: boolean): Node => {
    if (workers.length > 0 && !system && rng.chance(0.85)) return rng.pick(workers);
    return rng.pick(nodes);
  };

  // Plan: k3s system pods first (they exist on every cluster), applications fill the rest.
  let budget = podCount;
  const planned: PlannedWorkload[] = [];
  const take = (want: number): number => {
    const n = Math.min(budget, want);
    budget -= n;
    return n;
  };
  for (const app of SYSTEM_APPS) {
    const n = take(1);
    if (n > 0) planned.push({ app, replicas: n, system: true });
  }
  const svclbName = `svclb-traefik-${rng.string(8, '0123456789abcdef')}`;
  const svclbPods = take(nodeCount);
  if (svclbPods > 0) {
    planned.push({
      app: {
        name: svclbName,
        kind: 'DaemonSet',
        namespace: 'kube-system',
        flavors: ['any'],
        replicas: [nodeCount, nodeCount],
        containers: [
          c('lb-tcp-80', 'rancher/klipper-lb:v0.4.9', 0, 0, { probes: 'none' }),
          c('lb-tcp-443', 'rancher/klipper-lb:v0.4.9', 0, 0, { probes: 'none' }),
        ],
      },
      replicas: svclbPods,
      system: true,
    });
  }
  const helmJobs = ['helm-install-traefik-crd', 'helm-install-traefik'].slice(0, take(2));

  const candidates = APPS.filter((a) => a.flavors.includes('any') || a.flavors.includes(flavor));
  const used = new Map<string, number>();
  let pool: AppSpec[] = [];
  while (budget > 0) {
    if (pool.length === 0) pool = [...candidates];
    const app = pool.splice(rng.int(0, pool.length - 1), 1)[0];
    if (app === undefined) break;
    if (app.kind === 'DaemonSet' && budget < nodeCount) continue;
    const key = `${app.namespace}/${app.name}`;
    const seen = (used.get(key) ?? 0) + 1;
    used.set(key, seen);
    const named = seen === 1 ? app : { ...app, name: `${app.name}-${seen}` };
    const replicas = take(app.kind === 'DaemonSet' ? nodeCount : rng.int(app.replicas[0], app.replicas[1]));
    planned.push({ app: named, replicas, system: false });
  }

  // Materialize workloads and their pods.
  const pods: Pod[] = [];
  const workloads: Workload[] = [];
  for (const { app, replicas, system } of planned) {
    const v: Variation = system
      ? { requests: true, limits: false, probes: true, pullSecret: true, revisionHistoryLimit: 10 }
      : {
          requests: !rng.chance(0.08),
          limits: !rng.chance(0.2),
          probes: !rng.chance(0.1),
          pullSecret: !rng.chance(0.2),
          revisionHistoryLimit: rng.chance(0.05) ? 0 : 10,
        };
    const workloadAgeMs = rng.int(2, 90 * 24) * 3_600_000;
    const templateHash = rng.string(rng.int(9, 10), NAME_ALPHABET);
    const podsOf: Pod[] = [];
    for (let i = 0; i < replicas; i++) {
      const roll = rng.next();
      let health: PodHealth = 'running';
      if (!system) {
        if (roll < rates.crashloop) health = 'crashloop';
        else if (roll < rates.crashloop + rates.imagePull) health = 'image-pull';
        else if (roll < rates.crashloop + rates.imagePull + rates.pending) health = 'pending';
      }
      const ageMs = health === 'image-pull' ? rng.int(5, 120) * 60_000 : rng.int(60, workloadAgeMs / 1000) * 1000;
      const node = app.kind === 'DaemonSet' ? nodes[i % nodes.length] : schedulable(system);
      const name =
        app.kind === 'StatefulSet'
          ? `${app.name}-${i}`
          : app.kind === 'DaemonSet'
            ? `${app.name}-${rng.string(5, NAME_ALPHABET)}`
            : `${app.name}-${templateHash}-${rng.string(5, NAME_ALPHABET)}`;
      const pod: Pod = {
        namespace: app.namespace,
        name,
        uid: rng.uuid(),
        phase: health === 'pending' || health === 'image-pull' ? 'Pending' : 'Running',
        owner: { kind: app.kind, name: app.name },
        imagePullSecrets: app.pullSecret && v.pullSecret ? [app.pullSecret] : [],
        containers: app.containers.map((s, idx) => makeContainer(rng, s, v, health, idx === 0, ageMs)),
      };
      if (health !== 'pending' && node !== undefined) {
        pod.nodeName = node.name;
        pod.startedAt = isoSeconds(now - ageMs);
      }
      if (app.initContainers) {
        pod.initContainers = app.initContainers.map((s) => ({
          ...makeContainer(rng, s, v, 'completed', false, ageMs),
          ready: health !== 'pending',
        }));
      }
      podsOf.push(pod);
    }
    pods.push(...podsOf);
    const ready = podsOf.filter((p) => p.phase === 'Running' && p.containers.every((x) => x.ready)).length;
    const generation = rng.int(1, 14);
    const workload: Workload = {
      kind: app.kind,
      namespace: app.namespace,
      name: app.name,
      replicas,
      readyReplicas: ready,
      updatedReplicas: replicas,
      availableReplicas: ready,
      generation,
      observedGeneration: generation,
      template: podTemplate(app, v),
    };
    if (app.kind !== 'DaemonSet' || !system) workload.revisionHistoryLimit = v.revisionHistoryLimit;
    workloads.push(workload);
  }

  // k3s installs traefik through Helm jobs whose pods stay behind as Completed.
  for (const job of helmJobs) {
    const server = nodes[0];
    const ageMs = rng.int(3, 120) * 86_400_000;
    pods.push({
      namespace: 'kube-system',
      name: `${job}-${rng.string(5, NAME_ALPHABET)}`,
      uid: rng.uuid(),
      phase: 'Succeeded',
      nodeName: server?.name,
      owner: { kind: 'Job', name: job },
      startedAt: isoSeconds(now - ageMs),
      imagePullSecrets: [],
      containers: [
        {
          name: 'helm',
          image: 'rancher/klipper-helm:v0.9.3-build20241008',
          ready: false,
          restarts: 0,
          state: 'terminated',
          reason: 'Completed',
          requests: {},
          limits: {},
          probes: { liveness: false, readiness: false, startup: false },
          privileged: false,
        },
      ],
    });
  }

  return { nodes, pods, workloads };
}

/** The Kubernetes version an agent would report for this inventory (its first node's kubelet). */
/**
 * Policy objects a typical cluster has for its workloads, derived from them (no randomness): a
 * `default` ServiceAccount per namespace, a Service selecting each Deployment's and StatefulSet's
 * pods, and a PodDisruptionBudget for those with 2 or more replicas. Add the result as `objects`
 * to simulate an agent that reports policy objects.
 */
export function generatePolicyObjects(inv: ClusterInventory): PolicyObject[] {
  const objects: PolicyObject[] = [];
  const namespaces = new Set<string>();
  for (const w of inv.workloads) {
    namespaces.add(w.namespace);
    if (w.kind === 'DaemonSet') continue;
    const selector = { app: w.name };
    objects.push({
      kind: 'Service',
      namespace: w.namespace,
      name: w.name,
      spec: { selector, ports: [{ port: 80, protocol: 'TCP' }], type: 'ClusterIP' },
    });
    if (w.replicas >= 2) {
      objects.push({
        kind: 'PodDisruptionBudget',
        namespace: w.namespace,
        name: w.name,
        spec: { selector: { matchLabels: selector }, maxUnavailable: 1 },
      });
    }
  }
  for (const namespace of [...namespaces].sort()) objects.push({ kind: 'ServiceAccount', namespace, name: 'default' });
  return objects;
}

export function inventoryKubernetesVersion(inv: ClusterInventory): string {
  return inv.nodes[0]?.kubeletVersion ?? 'v1.31.4+k3s1';
}

// ---------------------------------------------------------------------------------------------
// Hashing and deltas

export { canonicalJson, hashInventory };

function diffList<T>(prev: readonly T[], next: readonly T[], key: (x: T) => string): { upsert: T[]; remove: string[] } {
  const before = new Map(prev.map((x) => [key(x), x]));
  const upsert: T[] = [];
  for (const item of next) {
    const k = key(item);
    const old = before.get(k);
    before.delete(k);
    if (old === item) continue;
    if (old === undefined || canonicalJson(old) !== canonicalJson(item)) upsert.push(item);
  }
  return { upsert, remove: [...before.keys()] };
}

export type DiffOptions = {
  /** Leave pods out (the agent's `pods` capability is off). */
  includePods?: boolean;
  /** Precomputed hashes, to skip hashing again. */
  baseHash?: string;
  hash?: string;
};

/** The delta that turns `prev` into `next`; empty lists are left out. */
export function diffInventory(
  prev: ClusterInventory,
  next: ClusterInventory,
  options: DiffOptions = {},
): DeltaInventory {
  const includePods = options.includePods ?? true;
  const nodes = diffList(prev.nodes, next.nodes, (n) => n.name);
  const pods = includePods ? diffList(prev.pods, next.pods, podKey) : { upsert: [], remove: [] };
  const workloads = diffList(prev.workloads, next.workloads, workloadKey);
  const delta: DeltaInventory = {
    mode: 'delta',
    baseHash: options.baseHash ?? hashInventory(includePods ? prev : { ...prev, pods: [] }),
    hash: options.hash ?? hashInventory(includePods ? next : { ...next, pods: [] }),
    upsert: {},
    remove: {},
  };
  if (nodes.upsert.length > 0) delta.upsert.nodes = nodes.upsert;
  if (pods.upsert.length > 0) delta.upsert.pods = pods.upsert;
  if (workloads.upsert.length > 0) delta.upsert.workloads = workloads.upsert;
  if (nodes.remove.length > 0) delta.remove.nodes = nodes.remove;
  if (pods.remove.length > 0) delta.remove.pods = pods.remove;
  if (workloads.remove.length > 0) delta.remove.workloads = workloads.remove;
  if (prev.objects !== undefined || next.objects !== undefined) {
    const objects = diffList(prev.objects ?? [], next.objects ?? [], workloadKey);
    if (objects.upsert.length > 0) delta.upsert.objects = objects.upsert;
    if (objects.remove.length > 0) delta.remove.objects = objects.remove;
  }
  return delta;
}

/** Applies a delta to an inventory (what the server does with the snapshot it holds). */
export function applyDelta(inv: ClusterInventory, delta: DeltaInventory): ClusterInventory {
  const apply = <T>(items: readonly T[], key: (x: T) => string, upsert: T[] = [], remove: string[] = []): T[] => {
    const map = new Map(items.map((x) => [key(x), x]));
    for (const k of remove) map.delete(k);
    for (const x of upsert) map.set(key(x), x);
    return [...map.values()];
  };
  const out: ClusterInventory = {
    nodes: apply(inv.nodes, (n) => n.name, delta.upsert.nodes, delta.remove.nodes),
    pods: apply(inv.pods, podKey, delta.upsert.pods, delta.remove.pods),
    workloads: apply(inv.workloads, workloadKey, delta.upsert.workloads, delta.remove.workloads),
  };
  if (inv.objects !== undefined || delta.upsert.objects !== undefined) {
    out.objects = apply(inv.objects ?? [], workloadKey, delta.upsert.objects, delta.remove.objects);
  }
  return out;
}

export function toFullInventory(
  inv: ClusterInventory,
  options: { includePods?: boolean; hash?: string } = {},
): FullInventory {
  const includePods = options.includePods ?? true;
  const full: FullInventory = {
    mode: 'full',
    hash: options.hash ?? hashInventory(includePods ? inv : { ...inv, pods: [] }),
    nodes: inv.nodes,
    workloads: inv.workloads,
  };
  if (includePods) full.pods = inv.pods;
  if (inv.objects !== undefined) full.objects = inv.objects;
  return full;
}

export const toSameInventory = (hash: string): SameInventory => ({ mode: 'same', hash });

// ---------------------------------------------------------------------------------------------
// Heartbeats

export type HeartbeatOptions = {
  seq: number;
  /** `sentAt`; defaults to the current time. */
  now?: number;
  agentVersion?: string;
  capabilities?: Capabilities;
  kubernetesVersion?: string;
  distribution?: string;
  usage?: Heartbeat['usage'];
  events?: KubeEvent[];
};

/** A heartbeat around an inventory of any mode. */
export function buildHeartbeat(inventory: Inventory, options: HeartbeatOptions): Heartbeat {
  const hb: Heartbeat = {
    seq: options.seq,
    sentAt: new Date(options.now ?? Date.now()).toISOString(),
    agent: {
      version: options.agentVersion ?? SIMULATED_AGENT_VERSION,
      capabilities: options.capabilities ?? DEFAULT_CAPABILITIES,
    },
    cluster: {
      kubernetesVersion: options.kubernetesVersion ?? 'v1.31.4+k3s1',
      distribution: options.distribution ?? 'k3s',
    },
    inventory,
    events: options.events ?? [],
  };
  if (options.usage !== undefined) hb.usage = options.usage;
  return hb;
}

const withVersion = (inv: ClusterInventory, options: HeartbeatOptions): HeartbeatOptions => ({
  ...options,
  kubernetesVersion: options.kubernetesVersion ?? inventoryKubernetesVersion(inv),
});
const podsOn = (options: HeartbeatOptions): boolean => (options.capabilities ?? DEFAULT_CAPABILITIES).pods;

export function buildFullHeartbeat(inv: ClusterInventory, options: HeartbeatOptions): Heartbeat {
  return buildHeartbeat(toFullInventory(inv, { includePods: podsOn(options) }), withVersion(inv, options));
}

export function buildDeltaHeartbeat(
  prev: ClusterInventory,
  next: ClusterInventory,
  options: HeartbeatOptions,
): Heartbeat {
  return buildHeartbeat(diffInventory(prev, next, { includePods: podsOn(options) }), withVersion(next, options));
}

export function buildSameHeartbeat(inv: ClusterInventory, options: HeartbeatOptions): Heartbeat {
  const hash = hashInventory(podsOn(options) ? inv : { ...inv, pods: [] });
  return buildHeartbeat(toSameInventory(hash), withVersion(inv, options));
}

// ---------------------------------------------------------------------------------------------
// Usage, events and churn

const isCrashLooping = (p: Pod): boolean => p.containers.some((x) => x.reason === 'CrashLoopBackOff');

/**
 * A `metrics.k8s.io`-like usage map ([cpuMilli, memoryBytes]) for running pods and all nodes.
 * Pass an rng to get fresh numbers on every heartbeat; without one the numbers are fixed.
 */
export function generateUsage(
  inv: ClusterInventory,
  rng: Rng = createRng(inv.pods.length * 7919 + inv.nodes.length),
): NonNullable<Heartbeat['usage']> {
  const pods: Record<string, [number, number]> = {};
  const perNode = new Map<string, [number, number]>();
  for (const pod of inv.pods) {
    if (pod.phase !== 'Running' || pod.nodeName === undefined) continue;
    let cpu = 0;
    let mem = 0;
    for (const ctr of pod.containers) {
      if (ctr.state !== 'running') {
        mem += 2 * Mi;
        continue;
      }
      cpu += Math.max(1, Math.round((ctr.requests.cpuMilli ?? 50) * (0.05 + rng.next() * 1.1)));
      mem += Math.round((ctr.requests.memoryBytes ?? 64 * Mi) * (0.3 + rng.next() * 0.8));
    }
    pods[podKey(pod)] = [cpu, mem];
    const n = perNode.get(pod.nodeName) ?? [0, 0];
    perNode.set(pod.nodeName, [n[0] + cpu, n[1] + mem]);
  }
  const nodes: Record<string, [number, number]> = {};
  for (const node of inv.nodes) {
    const [cpu, mem] = perNode.get(node.name) ?? [0, 0];
    // The kubelet, containerd and k3s itself take a share on every node.
    const cpuTotal = cpu + rng.int(80, 350);
    const memTotal = mem + rng.int(600, 1100) * Mi;
    nodes[node.name] = [
      Math.min(cpuTotal, node.capacity.cpuMilli ?? cpuTotal),
      Math.min(memTotal, node.capacity.memoryBytes ?? memTotal),
    ];
  }
  return { nodes, pods };
}

/** The Warning events a real cluster shows for the trouble in this inventory. */
export function generateWarningEvents(inv: ClusterInventory, options: { now?: number; rng?: Rng } = {}): KubeEvent[] {
  const now = options.now ?? DEFAULT_INVENTORY_NOW;
  const rng = options.rng ?? createRng(inv.pods.length * 31 + 17);
  const events: KubeEvent[] = [];
  const ts = (agoMs: number): string => isoSeconds(now - agoMs);
  for (const node of inv.nodes) {
    if (node.ready) continue;
    events.push({
      namespace: 'default',
      involvedObject: { kind: 'Node', name: node.name },
      reason: 'NodeNotReady',
      message: `Node ${node.name} status is now: NodeNotReady`,
      count: 1,
      firstTimestamp: ts(rng.int(60, 900) * 1000),
      lastTimestamp: ts(rng.int(60, 900) * 1000),
    });
  }
  for (const pod of inv.pods) {
    const obj = { kind: 'Pod', name: pod.name };
    const first = pod.startedAt !== undefined ? pod.startedAt : ts(rng.int(5, 60) * 60_000);
    for (const ctr of pod.containers) {
      if (ctr.reason === 'CrashLoopBackOff') {
        events.push({
          namespace: pod.namespace,
          involvedObject: obj,
          reason: 'BackOff',
          message: `Back-off restarting failed container ${ctr.name} in pod ${pod.name}_${pod.namespace}(${pod.uid})`,
          count: Math.max(1, ctr.restarts * 4),
          firstTimestamp: first,
          lastTimestamp: ts(rng.int(1, 30) * 1000),
        });
      } else if (ctr.reason === 'ImagePullBackOff' || ctr.reason === 'ErrImagePull') {
        events.push({
          namespace: pod.namespace,
          involvedObject: obj,
          reason: 'Failed',
          message: `Failed to pull image "${ctr.image}": rpc error: code = NotFound desc = failed to pull and unpack image "${ctr.image}": not found`,
          count: rng.int(3, 40),
          firstTimestamp: first,
          lastTimestamp: ts(rng.int(1, 60) * 1000),
        });
      }
    }
    if (pod.phase === 'Pending' && pod.nodeName === undefined) {
      const n = inv.nodes.length;
      events.push({
        namespace: pod.namespace,
        involvedObject: obj,
        reason: 'FailedScheduling',
        message: `0/${n} nodes are available: ${n} Insufficient cpu. preemption: 0/${n} nodes are available: ${n} No preemption victims found for incoming pod.`,
        count: rng.int(1, 25),
        firstTimestamp: first,
        lastTimestamp: ts(rng.int(1, 120) * 1000),
      });
    } else if (pod.phase === 'Running' && !isCrashLooping(pod) && rng.chance(0.01)) {
      events.push({
        namespace: pod.namespace,
        involvedObject: obj,
        reason: 'Unhealthy',
        message: 'Readiness probe failed: HTTP probe failed with statuscode: 503',
        count: rng.int(1, 6),
        firstTimestamp: ts(rng.int(120, 600) * 1000),
        lastTimestamp: ts(rng.int(1, 120) * 1000),
      });
    }
    if (events.length >= INVENTORY_LIMITS.events) break;
  }
  return events.slice(0, INVENTORY_LIMITS.events);
}

export type ChurnOptions = {
  now?: number;
  /** Chance per call that one running pod restarts. */
  restartChance?: number;
  /** Chance per call that one Deployment pod is replaced by a new one. */
  replaceChance?: number;
  /** Chance per call, per crash-looping pod, of one more restart (back-off tops out at 5 min). */
  crashloopRestartChance?: number;
};

/**
 * Small realistic churn between two heartbeats: a pod restarts, a Deployment pod is replaced,
 * crash-looping pods restart again. Returns the same object when nothing changed, a new
 * inventory (sharing the unchanged items) otherwise; the input is never modified.
 * Usage changes come from calling generateUsage with the same rng.
 */
export function mutateInventory(inv: ClusterInventory, rng: Rng, options: ChurnOptions = {}): ClusterInventory {
  const now = options.now ?? Date.now();
  const restartChance = options.restartChance ?? 0.08;
  const replaceChance = options.replaceChance ?? 0.03;
  const crashChance = options.crashloopRestartChance ?? 0.05;
  let pods: Pod[] | null = null;
  const replaceAt = (i: number, pod: Pod): void => {
    pods ??= [...inv.pods];
    pods[i] = pod;
  };

  inv.pods.forEach((pod, i) => {
    if (!isCrashLooping(pod) || !rng.chance(crashChance)) return;
    replaceAt(i, {
      ...pod,
      containers: pod.containers.map((x) => (x.reason === 'CrashLoopBackOff' ? { ...x, restarts: x.restarts + 1 } : x)),
    });
  });

  const running = (p: Pod): boolean => p.phase === 'Running' && !isCrashLooping(p) && p.owner?.kind !== 'Job';
  if (inv.pods.length > 0 && rng.chance(restartChance)) {
    const i = rng.int(0, inv.pods.length - 1);
    const pod = inv.pods[i];
    if (pod !== undefined && running(pod)) {
      replaceAt(i, {
        ...pod,
        containers: pod.containers.map((x, idx) =>
          idx === 0
            ? { ...x, restarts: x.restarts + 1, lastTerminationReason: rng.chance(0.3) ? 'OOMKilled' : 'Error' }
            : x,
        ),
      });
    }
  }

  if (inv.pods.length > 0 && rng.chance(replaceChance)) {
    const i = rng.int(0, inv.pods.length - 1);
    const pod = inv.pods[i];
    const m = pod === undefined ? null : /^(.*)-([a-z0-9]{5})$/.exec(pod.name);
    if (pod !== undefined && m !== null && pod.owner?.kind === 'Deployment' && running(pod)) {
      replaceAt(i, {
        ...pod,
        name: `${m[1]}-${rng.string(5, NAME_ALPHABET)}`,
        uid: rng.uuid(),
        startedAt: isoSeconds(now),
        containers: pod.containers.map(({ lastTerminationReason: _last, ...x }) => ({ ...x, restarts: 0 })),
      });
    }
  }

  return pods === null ? inv : { ...inv, pods };
}
