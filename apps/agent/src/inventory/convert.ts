import type { Container, KubeEvent, Node, Pod, PolicyObject, Resources, Workload } from '@niro/protocol';
import { DEPLOYMENT_ID_LABEL } from '@niro/protocol/agent-install';
import { bool, clip, cpuMilli, field, isObject, list, num, obj, str, stringMap, wholeUnits, type Raw } from './raw.js';

/**
 * Converters from API objects to the protocol's compact inventory (DESIGN 3.2). Only fields that
 * describe state go in, never timestamps that move on their own (node heartbeats, resource
 * versions), so an unchanged cluster converts to unchanged items and its heartbeat stays `same`.
 */

const name = (o: unknown): string | undefined => str(o, 'metadata', 'name');
const namespace = (o: unknown): string | undefined => str(o, 'metadata', 'namespace');

function resources(x: Raw | undefined, withPods = false): Resources & { pods?: number } {
  const out: Resources & { pods?: number } = {};
  if (x === undefined) return out;
  const cpu = cpuMilli(x.cpu);
  const memory = wholeUnits(x.memory);
  if (cpu !== undefined) out.cpuMilli = cpu;
  if (memory !== undefined) out.memoryBytes = memory;
  if (withPods) {
    const pods = wholeUnits(x.pods);
    if (pods !== undefined) out.pods = pods;
  }
  return out;
}

const HEALTHY_WHEN_FALSE = new Set(['MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable']);

export function toNode(raw: unknown): { key: string; value: Node } | null {
  const nodeName = name(raw);
  if (nodeName === undefined) return null;
  const conditions: Node['conditions'] = [];
  let ready = false;
  for (const c of list(raw, 'status', 'conditions')) {
    const type = str(c, 'type');
    const status = str(c, 'status');
    if (type === undefined || status === undefined) continue;
    if (type === 'Ready') ready = status === 'True';
    const unhealthy = type === 'Ready' ? status !== 'True' : HEALTHY_WHEN_FALSE.has(type) ? status !== 'False' : false;
    if (!unhealthy) continue;
    const cond: Node['conditions'][number] = { type: clip(type, 128), status: clip(status, 32) };
    const reason = str(c, 'reason');
    const message = str(c, 'message');
    if (reason !== undefined) cond.reason = clip(reason, 256);
    if (message !== undefined) cond.message = clip(message, 4096);
    conditions.push(cond);
  }
  const labels = stringMap(raw, 'metadata', 'labels');
  const roles = new Set<string>();
  for (const key of Object.keys(labels)) {
    if (key.startsWith('node-role.kubernetes.io/')) roles.add(key.slice('node-role.kubernetes.io/'.length));
  }
  const legacyRole = labels['kubernetes.io/role'];
  if (legacyRole !== undefined) roles.add(legacyRole);
  return {
    key: nodeName,
    value: {
      name: nodeName,
      ready,
      roles: [...roles]
        .filter((r) => r !== '')
        .sort()
        .slice(0, 32)
        .map((r) => clip(r, 128)),
      kubeletVersion: clip(str(raw, 'status', 'nodeInfo', 'kubeletVersion') ?? '', 64),
      capacity: resources(obj(raw, 'status', 'capacity'), true),
      allocatable: resources(obj(raw, 'status', 'allocatable'), true),
      conditions: conditions.slice(0, 64),
      unschedulable: bool(raw, 'spec', 'unschedulable') ?? false,
    },
  };
}

/** The controller reference of an object: `{ kind, name }` of the ownerReference with controller=true. */
export function controllerOf(raw: unknown): { kind: string; name: string } | undefined {
  for (const ref of list(raw, 'metadata', 'ownerReferences')) {
    if (bool(ref, 'controller') !== true) continue;
    const kind = str(ref, 'kind');
    const refName = str(ref, 'name');
    if (kind !== undefined && refName !== undefined) return { kind, name: refName };
  }
  return undefined;
}

/**
 * ReplicaSets and Jobs, reduced to what owner resolution needs: the controller above them (a
 * Deployment or a CronJob), or null when they stand alone.
 */
export function toOwnerLink(raw: unknown): { key: string; value: { kind: string; name: string } | null } | null {
  const n = name(raw);
  const ns = namespace(raw);
  if (n === undefined || ns === undefined) return null;
  return { key: `${ns}/${n}`, value: controllerOf(raw) ?? null };
}

function containerState(status: unknown): Pick<Container, 'state' | 'reason'> {
  const state = obj(status, 'state');
  if (state?.running !== undefined) return { state: 'running' };
  const terminated = obj(state, 'terminated');
  if (terminated !== undefined) {
    const reason = str(terminated, 'reason');
    return reason === undefined ? { state: 'terminated' } : { state: 'terminated', reason: clip(reason, 256) };
  }
  const reason = str(state, 'waiting', 'reason');
  return reason === undefined ? { state: 'waiting' } : { state: 'waiting', reason: clip(reason, 256) };
}

function toContainer(spec: unknown, statuses: Map<string, unknown>): Container | null {
  const containerName = str(spec, 'name');
  if (containerName === undefined) return null;
  const status = statuses.get(containerName);
  const container: Container = {
    name: clip(containerName, 253),
    image: clip(str(spec, 'image') ?? '', 1024),
    ready: bool(status, 'ready') ?? false,
    restarts: Math.max(0, num(status, 'restartCount') ?? 0),
    ...containerState(status),
    requests: resources(obj(spec, 'resources', 'requests')),
    limits: resources(obj(spec, 'resources', 'limits')),
    probes: {
      liveness: isObject(obj(spec, 'livenessProbe')),
      readiness: isObject(obj(spec, 'readinessProbe')),
      startup: isObject(obj(spec, 'startupProbe')),
    },
    privileged: bool(spec, 'securityContext', 'privileged') ?? false,
  };
  const last = str(status, 'lastState', 'terminated', 'reason');
  if (last !== undefined) container.lastTerminationReason = clip(last, 256);
  return container;
}

function containers(raw: unknown, specKey: string, statusKey: string): Container[] {
  const statuses = new Map<string, unknown>();
  for (const s of list(raw, 'status', statusKey)) {
    const n = str(s, 'name');
    if (n !== undefined) statuses.set(n, s);
  }
  const out: Container[] = [];
  for (const spec of list(raw, 'spec', specKey)) {
    const c = toContainer(spec, statuses);
    if (c !== null) out.push(c);
  }
  return out.slice(0, 128);
}

/** A pod before owner resolution: `ownerRef` is its direct controller (a ReplicaSet, a Job, …). */
export type PodRecord = { pod: Pod; ownerRef: { kind: string; name: string } | undefined };

export function toPodRecord(raw: unknown): { key: string; value: PodRecord } | null {
  const n = name(raw);
  const ns = namespace(raw);
  if (n === undefined || ns === undefined) return null;
  const pod: Pod = {
    namespace: ns,
    name: n,
    uid: str(raw, 'metadata', 'uid') ?? '',
    phase: clip(str(raw, 'status', 'phase') ?? 'Unknown', 32),
    imagePullSecrets: list(raw, 'spec', 'imagePullSecrets')
      .map((s) => str(s, 'name'))
      .filter((s): s is string => s !== undefined)
      .slice(0, 64),
    containers: containers(raw, 'containers', 'containerStatuses'),
  };
  const nodeName = str(raw, 'spec', 'nodeName');
  if (nodeName !== undefined) pod.nodeName = nodeName;
  const startedAt = str(raw, 'status', 'startTime');
  if (startedAt !== undefined) pod.startedAt = clip(startedAt, 64);
  const init = containers(raw, 'initContainers', 'initContainerStatuses');
  if (init.length > 0) pod.initContainers = init;
  return { key: `${ns}/${n}`, value: { pod, ownerRef: controllerOf(raw) } };
}

/**
 * The pod's top controller: a ReplicaSet's Deployment, a Job's CronJob, else the direct controller.
 * `links` maps "ns/name" of ReplicaSets and Jobs to their own controller.
 */
export function resolveOwner(
  record: PodRecord,
  replicaSets: ReadonlyMap<string, { kind: string; name: string } | null>,
  jobs: ReadonlyMap<string, { kind: string; name: string } | null>,
): Pod {
  const ref = record.ownerRef;
  if (ref === undefined) return record.pod;
  const links = ref.kind === 'ReplicaSet' ? replicaSets : ref.kind === 'Job' ? jobs : undefined;
  const above = links?.get(`${record.pod.namespace}/${ref.name}`);
  const top = above ?? ref;
  return { ...record.pod, owner: { kind: clip(top.kind, 128), name: clip(top.name, 253) } };
}

/** The pod template as the API returns it; an empty `creationTimestamp: null` is dropped. */
function template(raw: unknown): Raw {
  const t = obj(raw, 'spec', 'template');
  if (t === undefined) return {};
  const metadata = obj(t, 'metadata');
  if (metadata === undefined) return t;
  const { creationTimestamp, managedFields, ...rest } = metadata;
  void creationTimestamp;
  void managedFields;
  return { ...t, metadata: rest };
}

export function toWorkload(kind: Workload['kind'], raw: unknown): { key: string; value: Workload } | null {
  const n = name(raw);
  const ns = namespace(raw);
  if (n === undefined || ns === undefined) return null;
  const status = (...path: string[]): number => Math.max(0, num(raw, 'status', ...path) ?? 0);
  const daemon = kind === 'DaemonSet';
  const workload: Workload = {
    kind,
    namespace: ns,
    name: n,
    replicas: daemon ? status('desiredNumberScheduled') : Math.max(0, num(raw, 'spec', 'replicas') ?? 1),
    readyReplicas: status(daemon ? 'numberReady' : 'readyReplicas'),
    updatedReplicas: status(daemon ? 'updatedNumberScheduled' : 'updatedReplicas'),
    availableReplicas: status(daemon ? 'numberAvailable' : 'availableReplicas'),
    generation: Math.max(0, num(raw, 'metadata', 'generation') ?? 0),
    observedGeneration: status('observedGeneration'),
    template: template(raw),
  };
  const history = num(raw, 'spec', 'revisionHistoryLimit');
  if (history !== undefined && history >= 0) workload.revisionHistoryLimit = history;
  const deploymentId = stringMap(raw, 'metadata', 'labels')[DEPLOYMENT_ID_LABEL];
  if (deploymentId !== undefined) workload.deploymentId = clip(deploymentId, 128);
  return { key: `${kind}/${ns}/${n}`, value: workload };
}

/** A Warning event; `at` (epoch ms of its last occurrence) orders and ages them. */
export type EventRecord = { event: KubeEvent; at: number };

export function toEventRecord(raw: unknown): { key: string; value: EventRecord } | null {
  const n = name(raw);
  const ns = namespace(raw) ?? '';
  if (n === undefined) return null;
  if (str(raw, 'type') !== 'Warning') return null;
  const first = str(raw, 'firstTimestamp') ?? str(raw, 'eventTime') ?? str(raw, 'metadata', 'creationTimestamp') ?? '';
  const last = str(raw, 'lastTimestamp') ?? str(raw, 'series', 'lastObservedTime') ?? str(raw, 'eventTime') ?? first;
  const at = Date.parse(last);
  const event: KubeEvent = {
    namespace: clip(str(raw, 'involvedObject', 'namespace') ?? ns, 253),
    involvedObject: {
      kind: clip(str(raw, 'involvedObject', 'kind') ?? '', 128),
      name: clip(str(raw, 'involvedObject', 'name') ?? '', 253),
    },
    reason: clip(str(raw, 'reason') ?? '', 256),
    message: clip(str(raw, 'message') ?? '', 4096),
    count: Math.max(1, num(raw, 'count') ?? num(raw, 'series', 'count') ?? 1),
    firstTimestamp: clip(first, 64),
    lastTimestamp: clip(last, 64),
  };
  return { key: `${ns}/${n}`, value: { event, at: Number.isFinite(at) ? at : 0 } };
}

/**
 * The spec fields policy reads of each kind (packages/policy rules). Everything else, status above
 * all (an HPA's current replicas, a Service's load-balancer address), stays out, so only a change
 * a rule could see makes a heartbeat delta. ServiceAccounts have no spec: see `toPolicyObject`.
 */
const POLICY_SPEC_FIELDS: Record<Exclude<PolicyObject['kind'], 'ServiceAccount'>, readonly string[]> = {
  Service: ['selector', 'ports', 'type'],
  PodDisruptionBudget: ['selector', 'minAvailable', 'maxUnavailable'],
  HorizontalPodAutoscaler: ['scaleTargetRef', 'minReplicas', 'maxReplicas'],
  NetworkPolicy: ['podSelector', 'policyTypes'],
};

function trimmedSpec(kind: keyof typeof POLICY_SPEC_FIELDS, raw: unknown): Raw {
  const spec: Raw = {};
  for (const key of POLICY_SPEC_FIELDS[kind]) {
    const value = field(raw, 'spec', key);
    if (value !== undefined && value !== null) spec[key] = value;
  }
  // The API server defaults policyTypes exactly so; doing it here too keeps the trimmed copy's
  // meaning without its `egress` rules should an object ever arrive without them.
  if (kind === 'NetworkPolicy' && spec.policyTypes === undefined) {
    spec.policyTypes = list(raw, 'spec', 'egress').length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  }
  return spec;
}

/**
 * A Service, PodDisruptionBudget, HorizontalPodAutoscaler, NetworkPolicy or ServiceAccount trimmed
 * to what policy reads (protocol `PolicyObject`), keyed "Kind/ns/name" like workloads. `labels` and
 * a ServiceAccount's `imagePullSecrets` (names only) are left out when empty.
 */
export function toPolicyObject(kind: PolicyObject['kind'], raw: unknown): { key: string; value: PolicyObject } | null {
  const n = name(raw);
  const ns = namespace(raw);
  if (n === undefined || ns === undefined) return null;
  const object: PolicyObject = { kind, namespace: ns, name: n };
  const labels = stringMap(raw, 'metadata', 'labels');
  if (Object.keys(labels).length > 0) object.labels = labels;
  if (kind === 'ServiceAccount') {
    const automount = bool(raw, 'automountServiceAccountToken');
    if (automount !== undefined) object.automountServiceAccountToken = automount;
    const secrets = list(raw, 'imagePullSecrets')
      .map((s) => str(s, 'name'))
      .filter((s): s is string => s !== undefined && s !== '')
      .slice(0, 64)
      .map((s) => clip(s, 253));
    if (secrets.length > 0) object.imagePullSecrets = secrets;
  } else {
    object.spec = trimmedSpec(kind, raw);
  }
  return { key: `${kind}/${ns}/${n}`, value: object };
}
