import type { Container, KubeObject, ObjectContext, RelatedObjects, Rule, RuleHit, Workload } from '../types.js';
import { isRecord, labelSelectorMatches, namespaceOf, stringMap } from '../workloads.js';

export { labelSelectorMatches };

/**
 * Reliability rules: will the workload survive a node drain, a bad rollout or a restart, and will
 * the API server accept it at all. Rules that look at a second object (HPA, PDB, Service) judge a
 * manifest set only by what it contains, and a cluster inventory (`related.complete`) as a whole.
 */

type Fields = Record<string, unknown>;

function asRecord(value: unknown): Fields | undefined {
  return isRecord(value) ? value : undefined;
}

function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function workloadNamespace(workload: Workload): string {
  return namespaceOf(workload.object);
}

function labelList(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '(none)' : entries.map(([key, value]) => `${key}=${value}`).join(', ');
}

function isEmptySelector(selector: unknown): boolean {
  const fields = asRecord(selector) ?? {};
  return Object.keys(stringMap(fields.matchLabels)).length === 0 && asArray(fields.matchExpressions).length === 0;
}

/** A Service's `spec.selector` is a plain map: every pair must be among the labels. */
function mapSelectorMatches(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>) {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** policy/v1beta1 read an empty PDB selector as "no pods"; policy/v1 reads it as "every pod". */
function pdbSelects(pdb: KubeObject, labels: Readonly<Record<string, string>>): boolean {
  const selector = asRecord(pdb.spec)?.selector;
  if (pdb.apiVersion === 'policy/v1beta1' && isEmptySelector(selector)) return false;
  return labelSelectorMatches(selector, labels);
}

function hasAnyOfKind(related: RelatedObjects, kind: string): boolean {
  return related.all.some((object) => object.kind === kind);
}

/** The HorizontalPodAutoscalers whose `scaleTargetRef` names this workload. */
function autoscalersOf(workload: Workload, related: RelatedObjects): KubeObject[] {
  return related.inNamespace('HorizontalPodAutoscaler', workloadNamespace(workload)).filter((hpa) => {
    const target = asRecord(asRecord(hpa.spec)?.scaleTargetRef);
    return target?.kind === workload.ref.kind && target.name === workload.ref.name;
  });
}

const REPLICATED_KINDS: ReadonlySet<string> = new Set(['Deployment', 'StatefulSet']);

const singleReplica: Rule = {
  id: 'single-replica',
  title: 'Single replica',
  category: 'reliability',
  description:
    'A Deployment or StatefulSet with one replica is down whenever its pod is: on every rollout that cannot surge, every node drain or k3s upgrade, every eviction under memory pressure and every crash. Workloads scaled by a HorizontalPodAutoscaler are skipped, because the autoscaler owns the replica count; DaemonSets, Jobs and bare Pods are not replicated this way and are skipped too.',
  fix: 'Set `spec.replicas` to 2 or more (and spread the pods across nodes), or let a HorizontalPodAutoscaler with `minReplicas: 2` scale the workload.',
  reads: ['spec.replicas', 'HorizontalPodAutoscaler spec.scaleTargetRef'],
  severity: { nonProduction: 'info', production: 'high' },
  needs: ['HorizontalPodAutoscaler'],
  check({ workload, related }) {
    if (!REPLICATED_KINDS.has(workload.ref.kind) || workload.replicas !== 1) return [];
    if (autoscalersOf(workload, related).length > 0) return [];
    return [
      {
        message: `${workload.ref.kind} runs 1 replica and no HorizontalPodAutoscaler scales it.`,
        path: 'spec.replicas',
      },
    ];
  },
};

function hasProbe(container: Container, probe: 'readinessProbe' | 'livenessProbe'): boolean {
  return isRecord(container.spec[probe]);
}

function describeContainer(container: Container): string {
  return container.list === 'initContainers' ? `sidecar container ${container.name}` : `container ${container.name}`;
}

const missingProbes: Rule = {
  id: 'missing-probes',
  title: 'Missing readiness or liveness probe',
  category: 'reliability',
  description:
    'Without a readiness probe a pod receives traffic as soon as its process starts, before it can answer, and keeps receiving it while it is stuck; rollouts then replace healthy pods with ones that are not ready. Without a liveness probe a deadlocked process is never restarted. Only long-running containers are checked: the containers of Deployments, StatefulSets, DaemonSets, ReplicaSets and Pods and sidecar init containers (`restartPolicy: Always`), not ordinary init containers or the containers of Jobs and CronJobs.',
  fix: 'Add a `readinessProbe` that answers only when the container can serve, and a `livenessProbe` that fails only when a restart would help (not the same endpoint with the same thresholds).',
  reads: ['containers[].readinessProbe', 'containers[].livenessProbe', 'initContainers[].restartPolicy'],
  severity: { nonProduction: 'medium', production: 'medium' },
  check({ containers }) {
    return containers
      .filter((container) => container.longRunning && container.list !== 'ephemeralContainers')
      .flatMap((container): RuleHit[] => {
        const readiness = hasProbe(container, 'readinessProbe');
        const liveness = hasProbe(container, 'livenessProbe');
        if (readiness && liveness) return [];
        const missing = !readiness && !liveness ? 'readiness or liveness' : readiness ? 'liveness' : 'readiness';
        const path =
          !readiness && !liveness
            ? container.path
            : `${container.path}.${readiness ? 'livenessProbe' : 'readinessProbe'}`;
        return [
          { message: `${describeContainer(container)} has no ${missing} probe.`, container: container.name, path },
        ];
      });
  },
};

const HISTORY_KINDS: ReadonlySet<string> = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

const noRollbackHistory: Rule = {
  id: 'no-rollback-history',
  title: 'No rollback history',
  category: 'reliability',
  description:
    'With `revisionHistoryLimit: 0` Kubernetes deletes every earlier ReplicaSet or ControllerRevision as soon as a rollout finishes, so `kubectl rollout undo` has nothing to go back to and a bad release can only be fixed by deploying again. (The control plane adds the other half of this rule at runtime: a managed deployment that has no earlier revision to roll back to.)',
  fix: 'Remove `spec.revisionHistoryLimit` (the default keeps 10 revisions) or set it to a small number such as 3.',
  reads: ['spec.revisionHistoryLimit'],
  severity: { nonProduction: 'low', production: 'medium' },
  check({ workload }) {
    if (!HISTORY_KINDS.has(workload.ref.kind)) return [];
    if (asRecord(workload.object.spec)?.revisionHistoryLimit !== 0) return [];
    return [
      {
        message: `${workload.ref.kind} keeps no earlier revision (revisionHistoryLimit: 0); it cannot be rolled back.`,
        path: 'spec.revisionHistoryLimit',
      },
    ];
  },
};

const PROBES = ['readinessProbe', 'livenessProbe', 'startupProbe'] as const;
const PROBE_HANDLERS = ['httpGet', 'tcpSocket', 'grpc'] as const;

type DeclaredPorts = { names: Set<string>; numbers: Set<number> };

function declaredPorts(container: Container): DeclaredPorts {
  const names = new Set<string>();
  const numbers = new Set<number>();
  for (const value of asArray(container.spec.ports)) {
    const port = asRecord(value);
    if (typeof port?.name === 'string') names.add(port.name);
    if (typeof port?.containerPort === 'number') numbers.add(port.containerPort);
  }
  return { names, numbers };
}

/** `port: "8080"` is how people write a number in YAML, not a port name (names need a letter). */
function probePort(value: unknown): string | number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value === '') return undefined;
  return /^\d+$/.test(value) ? Number(value) : value;
}

const probePortMismatch: Rule = {
  id: 'probe-port-mismatch',
  title: 'Probe targets an undeclared port',
  category: 'reliability',
  description:
    'The kubelet resolves a named probe port among the ports of the same container only; a name that is not there makes every probe fail, so the pod never becomes ready or is restarted in a loop. A numeric port that the container does not list is reported only when the container lists ports at all: ports are informational in Kubernetes, but a container that declares 8080 and is probed on 8081 is almost always a typo. Probes with an explicit `host` are skipped, since they target another address.',
  fix: "Point the probe at one of the container's `ports` (by name or number), or declare the port the probe uses in the container's `ports`.",
  reads: [
    'containers[].ports',
    'containers[].readinessProbe',
    'containers[].livenessProbe',
    'containers[].startupProbe',
    'initContainers[].ports',
  ],
  severity: { nonProduction: 'medium', production: 'medium' },
  check({ containers }) {
    return containers.flatMap((container): RuleHit[] => {
      const declared = declaredPorts(container);
      return PROBES.flatMap((probeName) => {
        const probe = asRecord(container.spec[probeName]);
        if (!probe) return [];
        return PROBE_HANDLERS.flatMap((handlerName): RuleHit[] => {
          const handler = asRecord(probe[handlerName]);
          if (!handler || (typeof handler.host === 'string' && handler.host !== '')) return [];
          const port = probePort(handler.port);
          if (port === undefined) return [];
          const path = `${container.path}.${probeName}.${handlerName}.port`;
          const probeLabel = probeName.replace(/Probe$/, '');
          if (typeof port === 'string') {
            if (declared.names.has(port)) return [];
            return [
              {
                message: `container ${container.name} ${probeLabel} probe uses port "${port}", which the container does not name.`,
                container: container.name,
                path,
              },
            ];
          }
          if (declared.numbers.size === 0 || declared.numbers.has(port)) return [];
          return [
            {
              message: `container ${container.name} ${probeLabel} probe uses port ${port}, not among its ports (${[...declared.numbers].join(', ')}).`,
              container: container.name,
              path,
            },
          ];
        });
      });
    });
  },
};

/** Workload kinds whose `spec.selector` must match `spec.template.metadata.labels`. */
const SELECTOR_KINDS: ReadonlySet<string> = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

function workloadsIn(namespace: string, context: ObjectContext): readonly Workload[] {
  return context.workloads.filter((workload) => workloadNamespace(workload) === namespace);
}

/**
 * A selector of a Service or PDB can only be judged against workloads we can see: with a partial
 * view (a manifest set) that holds no workload of the namespace, the pods come from elsewhere.
 */
function canJudgeNamespace(namespace: string, context: ObjectContext): boolean {
  return context.related.complete || workloadsIn(namespace, context).length > 0;
}

function serviceSelectorHits(service: KubeObject, context: ObjectContext): RuleHit[] {
  const spec = asRecord(service.spec);
  // Services without a selector (ExternalName, manually managed Endpoints) select nothing on purpose.
  if (!spec || spec.type === 'ExternalName') return [];
  const selector = stringMap(spec.selector);
  if (Object.keys(selector).length === 0) return [];
  const namespace = namespaceOf(service);
  if (!canJudgeNamespace(namespace, context)) return [];
  if (workloadsIn(namespace, context).some((workload) => mapSelectorMatches(selector, workload.podLabels))) return [];
  return [
    {
      message: `Service selector ${labelList(selector)} matches no pods of the workloads in namespace "${namespace}".`,
      path: 'spec.selector',
    },
  ];
}

function pdbSelectorHits(pdb: KubeObject, context: ObjectContext): RuleHit[] {
  const namespace = namespaceOf(pdb);
  if (!canJudgeNamespace(namespace, context)) return [];
  if (workloadsIn(namespace, context).some((workload) => pdbSelects(pdb, workload.podLabels))) return [];
  return [
    {
      message: `PodDisruptionBudget selector matches no pods of the workloads in namespace "${namespace}"; it protects nothing.`,
      path: 'spec.selector',
    },
  ];
}

function ownSelectorHits(object: KubeObject): RuleHit[] {
  const spec = asRecord(object.spec);
  // A missing selector is rejected by the API server (apps/v1) or defaulted from the labels (older versions).
  if (!spec || !isRecord(spec.selector)) return [];
  const labels = stringMap(asRecord(asRecord(spec.template)?.metadata)?.labels);
  if (labelSelectorMatches(spec.selector, labels)) return [];
  return [
    {
      message: `${object.kind} selector does not match its own pod template labels (${labelList(labels)}); the API server rejects it.`,
      path: 'spec.selector',
    },
  ];
}

const selectorMismatch: Rule = {
  id: 'selector-mismatch',
  title: 'Selector matches no pods',
  category: 'reliability',
  description:
    "A Service whose selector matches no pod has no endpoints, so every request to it fails; a PodDisruptionBudget that matches no pod protects nothing during a drain. Both usually come from a renamed label. A Deployment, StatefulSet, DaemonSet or ReplicaSet whose `spec.selector` does not match its own template's labels is rejected by the API server. Services and PDBs are judged only against workloads that are visible: on a manifest set that holds no workload of the object's namespace, the rule stays silent.",
  fix: 'Make the selector and the pod template labels agree (fix the selector or the `metadata.labels` of the pod template).',
  reads: [
    'Service spec.selector',
    'PodDisruptionBudget spec.selector',
    'spec.selector',
    'spec.template.metadata.labels',
  ],
  severity: { nonProduction: 'medium', production: 'medium' },
  needs: ['Service', 'PodDisruptionBudget'],
  checkObject(object, context) {
    // Only core Services: a Knative `serving.knative.dev/v1` Service has no selector of its own.
    if (object.kind === 'Service' && object.apiVersion === 'v1') return serviceSelectorHits(object, context);
    if (object.kind === 'PodDisruptionBudget') return pdbSelectorHits(object, context);
    if (SELECTOR_KINDS.has(object.kind)) return ownSelectorHits(object);
    return [];
  },
};

/** Effective replica count: an autoscaler's `minReplicas` (default 1) when one scales the workload. */
function minimumReplicas(workload: Workload, related: RelatedObjects): number | undefined {
  const autoscalers = autoscalersOf(workload, related);
  if (autoscalers.length === 0) return workload.replicas;
  return Math.max(
    ...autoscalers.map((hpa) => {
      const minReplicas = asRecord(hpa.spec)?.minReplicas;
      return typeof minReplicas === 'number' ? minReplicas : 1;
    }),
  );
}

const missingPdb: Rule = {
  id: 'missing-pdb',
  title: 'No PodDisruptionBudget',
  category: 'reliability',
  description:
    'Without a PodDisruptionBudget a node drain (a k3s upgrade, a node replacement) may evict every replica of a workload at once, and the service is down although it runs several replicas. Checked for Deployments and StatefulSets with 2 or more replicas (or an autoscaler with `minReplicas` of 2 or more). On a cluster inventory, or on a manifest set that contains PodDisruptionBudgets, a workload that none selects is reported at the rule severity; on a manifest set without any PodDisruptionBudget it is still reported, since that set is what gets deployed, but one step lower (info, low in production), as the budget may be managed elsewhere.',
  fix: 'Add a PodDisruptionBudget (`policy/v1`) whose selector matches the pod labels, with `maxUnavailable: 1` or a `minAvailable` below the replica count.',
  reads: [
    'spec.replicas',
    'spec.template.metadata.labels',
    'PodDisruptionBudget spec.selector',
    'HorizontalPodAutoscaler spec.minReplicas',
  ],
  severity: { nonProduction: 'low', production: 'medium' },
  needs: ['PodDisruptionBudget', 'HorizontalPodAutoscaler'],
  check({ workload, related }) {
    if (!REPLICATED_KINDS.has(workload.ref.kind)) return [];
    const replicas = minimumReplicas(workload, related);
    if (replicas === undefined || replicas < 2) return [];
    const namespace = workloadNamespace(workload);
    const budgets = related.inNamespace('PodDisruptionBudget', namespace);
    if (budgets.some((pdb) => pdbSelects(pdb, workload.podLabels))) return [];
    const path = workload.podSpecPath.replace(/spec$/, 'metadata.labels');
    if (!related.complete && !hasAnyOfKind(related, 'PodDisruptionBudget')) {
      return [
        {
          message: `No PodDisruptionBudget in this manifest set covers the ${replicas} replicas; check that one exists in namespace "${namespace}".`,
          path,
          severity: { nonProduction: 'info', production: 'low' },
        },
      ];
    }
    return [{ message: `No PodDisruptionBudget in namespace "${namespace}" covers the ${replicas} replicas.`, path }];
  },
};

type Removal = { replacement: string; removedIn: string };

/** Kinds served under an apiVersion that Kubernetes removed (kubernetes.io/docs/reference/using-api/deprecation-guide). */
export const REMOVED_APIS: Readonly<Record<string, Removal>> = {
  'extensions/v1beta1 Deployment': { replacement: 'apps/v1', removedIn: '1.16' },
  'extensions/v1beta1 DaemonSet': { replacement: 'apps/v1', removedIn: '1.16' },
  'extensions/v1beta1 ReplicaSet': { replacement: 'apps/v1', removedIn: '1.16' },
  'extensions/v1beta1 NetworkPolicy': { replacement: 'networking.k8s.io/v1', removedIn: '1.16' },
  'extensions/v1beta1 PodSecurityPolicy': {
    replacement: 'Pod Security Admission (namespace labels)',
    removedIn: '1.16',
  },
  'extensions/v1beta1 Ingress': { replacement: 'networking.k8s.io/v1', removedIn: '1.22' },
  'apps/v1beta1 Deployment': { replacement: 'apps/v1', removedIn: '1.16' },
  'apps/v1beta1 StatefulSet': { replacement: 'apps/v1', removedIn: '1.16' },
  'apps/v1beta2 Deployment': { replacement: 'apps/v1', removedIn: '1.16' },
  'apps/v1beta2 StatefulSet': { replacement: 'apps/v1', removedIn: '1.16' },
  'apps/v1beta2 DaemonSet': { replacement: 'apps/v1', removedIn: '1.16' },
  'apps/v1beta2 ReplicaSet': { replacement: 'apps/v1', removedIn: '1.16' },
  'networking.k8s.io/v1beta1 Ingress': { replacement: 'networking.k8s.io/v1', removedIn: '1.22' },
  'networking.k8s.io/v1beta1 IngressClass': { replacement: 'networking.k8s.io/v1', removedIn: '1.22' },
  'rbac.authorization.k8s.io/v1beta1 Role': { replacement: 'rbac.authorization.k8s.io/v1', removedIn: '1.22' },
  'rbac.authorization.k8s.io/v1beta1 RoleBinding': { replacement: 'rbac.authorization.k8s.io/v1', removedIn: '1.22' },
  'rbac.authorization.k8s.io/v1beta1 ClusterRole': { replacement: 'rbac.authorization.k8s.io/v1', removedIn: '1.22' },
  'rbac.authorization.k8s.io/v1beta1 ClusterRoleBinding': {
    replacement: 'rbac.authorization.k8s.io/v1',
    removedIn: '1.22',
  },
  'apiextensions.k8s.io/v1beta1 CustomResourceDefinition': {
    replacement: 'apiextensions.k8s.io/v1',
    removedIn: '1.22',
  },
  'admissionregistration.k8s.io/v1beta1 MutatingWebhookConfiguration': {
    replacement: 'admissionregistration.k8s.io/v1',
    removedIn: '1.22',
  },
  'admissionregistration.k8s.io/v1beta1 ValidatingWebhookConfiguration': {
    replacement: 'admissionregistration.k8s.io/v1',
    removedIn: '1.22',
  },
  'apiregistration.k8s.io/v1beta1 APIService': { replacement: 'apiregistration.k8s.io/v1', removedIn: '1.22' },
  'certificates.k8s.io/v1beta1 CertificateSigningRequest': { replacement: 'certificates.k8s.io/v1', removedIn: '1.22' },
  'coordination.k8s.io/v1beta1 Lease': { replacement: 'coordination.k8s.io/v1', removedIn: '1.22' },
  'scheduling.k8s.io/v1beta1 PriorityClass': { replacement: 'scheduling.k8s.io/v1', removedIn: '1.22' },
  'storage.k8s.io/v1beta1 StorageClass': { replacement: 'storage.k8s.io/v1', removedIn: '1.22' },
  'storage.k8s.io/v1beta1 CSIDriver': { replacement: 'storage.k8s.io/v1', removedIn: '1.22' },
  'storage.k8s.io/v1beta1 CSINode': { replacement: 'storage.k8s.io/v1', removedIn: '1.22' },
  'storage.k8s.io/v1beta1 VolumeAttachment': { replacement: 'storage.k8s.io/v1', removedIn: '1.22' },
  'batch/v1beta1 CronJob': { replacement: 'batch/v1', removedIn: '1.25' },
  'policy/v1beta1 PodDisruptionBudget': { replacement: 'policy/v1', removedIn: '1.25' },
  'policy/v1beta1 PodSecurityPolicy': { replacement: 'Pod Security Admission (namespace labels)', removedIn: '1.25' },
  'autoscaling/v2beta1 HorizontalPodAutoscaler': { replacement: 'autoscaling/v2', removedIn: '1.25' },
  'discovery.k8s.io/v1beta1 EndpointSlice': { replacement: 'discovery.k8s.io/v1', removedIn: '1.25' },
  'events.k8s.io/v1beta1 Event': { replacement: 'events.k8s.io/v1', removedIn: '1.25' },
  'node.k8s.io/v1beta1 RuntimeClass': { replacement: 'node.k8s.io/v1', removedIn: '1.25' },
  'autoscaling/v2beta2 HorizontalPodAutoscaler': { replacement: 'autoscaling/v2', removedIn: '1.26' },
  'storage.k8s.io/v1beta1 CSIStorageCapacity': { replacement: 'storage.k8s.io/v1', removedIn: '1.27' },
  'flowcontrol.apiserver.k8s.io/v1beta2 FlowSchema': {
    replacement: 'flowcontrol.apiserver.k8s.io/v1',
    removedIn: '1.29',
  },
  'flowcontrol.apiserver.k8s.io/v1beta2 PriorityLevelConfiguration': {
    replacement: 'flowcontrol.apiserver.k8s.io/v1',
    removedIn: '1.29',
  },
  'flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema': {
    replacement: 'flowcontrol.apiserver.k8s.io/v1',
    removedIn: '1.32',
  },
  'flowcontrol.apiserver.k8s.io/v1beta3 PriorityLevelConfiguration': {
    replacement: 'flowcontrol.apiserver.k8s.io/v1',
    removedIn: '1.32',
  },
};

/** Whole API group versions that no longer exist, for kinds the table above does not list. */
const REMOVED_GROUP_VERSIONS: Readonly<Record<string, string>> = {
  'extensions/v1beta1': '1.22',
  'apps/v1beta1': '1.16',
  'apps/v1beta2': '1.16',
  'batch/v2alpha1': '1.21',
  'policy/v1beta1': '1.25',
  'autoscaling/v2beta1': '1.25',
  'autoscaling/v2beta2': '1.26',
  'networking.k8s.io/v1beta1': '1.22',
};

const deprecatedApi: Rule = {
  id: 'deprecated-api',
  title: 'Removed API version',
  category: 'reliability',
  description:
    "Kubernetes removes beta API versions a few releases after their stable replacement ships; a manifest that still uses one is rejected by every cluster at or above that release, so an apply fails in the middle of an upgrade or a fresh k3s install. The finding names the replacement and the Kubernetes version that removed the old one. Fields sometimes moved between versions (an Ingress backend's `serviceName`, an HPA's `targetCPUUtilizationPercentage`), so check the object against the new schema when you change its `apiVersion`.",
  fix: 'Change `apiVersion` to the replacement the finding names and adapt the fields that changed (`kubectl convert` can do both).',
  reads: ['apiVersion', 'kind'],
  severity: { nonProduction: 'medium', production: 'high' },
  checkObject(object) {
    const removal = REMOVED_APIS[`${object.apiVersion} ${object.kind}`];
    if (removal) {
      return [
        {
          message: `${object.kind} ${object.apiVersion} was removed in Kubernetes ${removal.removedIn}; use ${removal.replacement}.`,
          path: 'apiVersion',
        },
      ];
    }
    const removedIn = REMOVED_GROUP_VERSIONS[object.apiVersion];
    if (removedIn === undefined) return [];
    return [
      {
        message: `${object.apiVersion} was removed in Kubernetes ${removedIn}; ${object.kind} is not served under it.`,
        path: 'apiVersion',
      },
    ];
  },
};

export const RELIABILITY_RULES: Rule[] = [
  singleReplica,
  missingProbes,
  noRollbackHistory,
  probePortMismatch,
  selectorMismatch,
  missingPdb,
  deprecatedApi,
];
