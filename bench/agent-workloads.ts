/**
 * The bench's cluster content: about 1,000 pods in six namespaces from 50 Deployments (replicas
 * from 2 to 45), four StatefulSets and two DaemonSets, with templates like real services have
 * (one or two containers, requests and limits, probes, env, ports, the usual labels).
 * Deterministic, so runs are comparable.
 */
type KubeObject = Record<string, unknown>;

export type BenchWorkloads = {
  /** A `v1/List` of every object, as JSON (which kubectl apply reads as YAML). */
  manifest: string;
  namespaces: string[];
  /** Pods the objects ask for, on `nodes` nodes. */
  pods: number;
  /** The Deployment the bench restarts to produce deltas. */
  churn: { namespace: string; name: string; replicas: number };
};

const NAMESPACES = ['shop', 'payments', 'search', 'platform', 'data', 'monitoring'];
const APPS = [
  'api',
  'web',
  'worker',
  'checkout',
  'cart',
  'catalog',
  'pricing',
  'inventory',
  'notifier',
  'gateway',
  'auth',
  'profile',
  'recommender',
  'indexer',
  'scheduler',
  'billing',
  'ledger',
  'reports',
  'exporter',
  'webhook',
];
/** Replicas of Deployment i are REPLICAS[i % 10]: 50 Deployments, 965 pods; index 6 is the 20-pod churn target. */
const REPLICAS = [45, 6, 24, 12, 2, 30, 20, 8, 31, 15];
const DEPLOYMENTS = 50;
const CHURN_INDEX = 6;

const STATEFUL_SETS = [
  { namespace: 'data', name: 'postgres', replicas: 3, image: 'docker.io/library/postgres:17.2', port: 5432 },
  { namespace: 'data', name: 'kafka', replicas: 5, image: 'docker.io/bitnami/kafka:3.9.0', port: 9092 },
  { namespace: 'shop', name: 'redis', replicas: 3, image: 'docker.io/library/redis:7.4.1', port: 6379 },
  { namespace: 'platform', name: 'etcd', replicas: 3, image: 'quay.io/coreos/etcd:v3.5.17', port: 2379 },
];
const DAEMON_SETS = [
  { namespace: 'monitoring', name: 'node-exporter', image: 'quay.io/prometheus/node-exporter:v1.8.2', port: 9100 },
  { namespace: 'platform', name: 'log-shipper', image: 'docker.io/fluent/fluent-bit:3.2.2', port: 2020 },
];

export function benchWorkloads(nodes: number): BenchWorkloads {
  const items: KubeObject[] = NAMESPACES.map((name) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name, team: `team-${name}` } },
  }));
  let pods = 0;
  let churn: BenchWorkloads['churn'] | undefined;
  for (let i = 0; i < DEPLOYMENTS; i++) {
    const namespace = NAMESPACES[i % NAMESPACES.length] ?? 'default';
    const name = `${APPS[i % APPS.length] ?? 'app'}-${Math.floor(i / APPS.length) + 1}`;
    const replicas = REPLICAS[i % REPLICAS.length] ?? 1;
    pods += replicas;
    if (i === CHURN_INDEX) churn = { namespace, name, replicas };
    items.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels: appLabels(name, namespace, i) },
      spec: {
        replicas,
        revisionHistoryLimit: 3,
        selector: { matchLabels: { 'app.kubernetes.io/name': name } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
        template: podTemplate(name, namespace, i, `registry.example.test/${namespace}/${name}:1.${i % 7}.${i % 4}`),
      },
    });
  }
  for (const [k, s] of STATEFUL_SETS.entries()) {
    pods += s.replicas;
    const template = podTemplate(s.name, s.namespace, 100 + k, s.image, s.port);
    items.push({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: s.name, namespace: s.namespace, labels: appLabels(s.name, s.namespace, 100 + k) },
      spec: {
        replicas: s.replicas,
        serviceName: s.name,
        // Parallel: kwok pods are ready at once, no need to wait for each ordinal in turn.
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { 'app.kubernetes.io/name': s.name } },
        template,
      },
    });
  }
  for (const [k, d] of DAEMON_SETS.entries()) {
    pods += nodes;
    items.push({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: d.name, namespace: d.namespace, labels: appLabels(d.name, d.namespace, 200 + k) },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/name': d.name } },
        template: podTemplate(d.name, d.namespace, 200 + k, d.image, d.port),
      },
    });
  }
  if (churn === undefined) throw new Error('no churn Deployment');
  return {
    manifest: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
    namespaces: NAMESPACES,
    pods,
    churn,
  };
}

function appLabels(name: string, namespace: string, i: number): Record<string, string> {
  return {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/part-of': namespace,
    'app.kubernetes.io/managed-by': i % 3 === 0 ? 'Helm' : 'kustomize',
    team: `team-${namespace}`,
  };
}

function podTemplate(name: string, namespace: string, i: number, image: string, port = 8080): KubeObject {
  const containers: KubeObject[] = [
    {
      name: 'app',
      image,
      imagePullPolicy: 'IfNotPresent',
      ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
      env: [
        { name: 'LOG_LEVEL', value: i % 5 === 0 ? 'debug' : 'info' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ],
      resources: {
        requests: { cpu: `${25 * (1 + (i % 8))}m`, memory: `${64 * (1 + (i % 4))}Mi` },
        limits: { memory: `${128 * (1 + (i % 4))}Mi`, ...(i % 2 === 0 ? { cpu: '1' } : {}) },
      },
      readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 10 },
      livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 15, periodSeconds: 20 },
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
    },
  ];
  // Every third workload carries a proxy sidecar, as a service mesh would add.
  if (i % 3 === 1) {
    containers.push({
      name: 'proxy',
      image: 'docker.io/envoyproxy/envoy:v1.32.3',
      ports: [{ name: 'admin', containerPort: 9901, protocol: 'TCP' }],
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
      readinessProbe: { httpGet: { path: '/ready', port: 'admin' }, periodSeconds: 5 },
    });
  }
  return {
    metadata: {
      labels: {
        'app.kubernetes.io/name': name,
        'app.kubernetes.io/part-of': namespace,
        'app.kubernetes.io/version': image.slice(image.lastIndexOf(':') + 1),
        team: `team-${namespace}`,
      },
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port) },
    },
    spec: {
      serviceAccountName: 'default',
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 30,
      securityContext: { runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001 },
      containers,
    },
  };
}
