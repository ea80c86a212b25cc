import type { ObjectResult, Pod, RolloutPod, RolloutWorkload, Workload } from '@niro/protocol';
import { isRecord } from '../../lib/validation.js';

/** The kinds whose rollout a deployment waits for. */
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/** Kubernetes' default progressDeadlineSeconds; StatefulSets and DaemonSets have none, so they get it too. */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

/** A workload of a revision: its "Kind/name" and the generation the apply wrote, when the agent said. */
export type ExpectedWorkload = { kind: string; name: string; generation: number | null };

/** The workloads among parsed manifests, and the longest progress deadline any of them sets. */
export function workloadsOf(objects: readonly { kind: string; metadata: { name: string }; spec?: unknown }[]): {
  workloads: { kind: string; name: string }[];
  deadlineSeconds: number;
} {
  const workloads: { kind: string; name: string }[] = [];
  let deadlineSeconds = 0;
  for (const object of objects) {
    const kind = object.kind;
    if (!WORKLOAD_KINDS.has(kind)) continue;
    workloads.push({ kind, name: object.metadata.name });
    const spec = isRecord(object.spec) ? object.spec : {};
    const deadline =
      kind === 'Deployment' && typeof spec.progressDeadlineSeconds === 'number'
        ? spec.progressDeadlineSeconds
        : DEFAULT_PROGRESS_DEADLINE_SECONDS;
    deadlineSeconds = Math.max(deadlineSeconds, deadline);
  }
  return { workloads, deadlineSeconds };
}

/** The generations an apply result reports for the given workloads ("Kind/name" → generation). */
export function appliedGenerations(
  workloads: readonly { kind: string; name: string }[],
  objects: readonly ObjectResult[],
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const w of workloads) {
    const result = objects.find((o) => o.kind === w.kind && o.name === w.name);
    out[`${w.kind}/${w.name}`] = result?.generation ?? null;
  }
  return out;
}

export function parseGenerations(text: string | null): ExpectedWorkload[] {
  if (text === null) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  if (!isRecord(value)) return [];
  const out: ExpectedWorkload[] = [];
  for (const [key, generation] of Object.entries(value)) {
    const slash = key.indexOf('/');
    if (slash <= 0) continue;
    out.push({
      kind: key.slice(0, slash),
      name: key.slice(slash + 1),
      generation: typeof generation === 'number' ? generation : null,
    });
  }
  return out;
}

export type RolloutProgress = {
  ready: boolean;
  desiredReplicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  workloads: RolloutWorkload[];
  pods: RolloutPod[];
};

/**
 * How far the workloads of a revision have rolled out, from the cluster's inventory. A workload
 * is ready once the agent reports the generation the apply wrote as observed by its controller,
 * with every replica updated, ready and available (what `kubectl rollout status` waits for).
 * Without a generation from the agent (older agents), the counts alone decide.
 */
export function rolloutProgress(
  namespace: string,
  expected: readonly ExpectedWorkload[],
  workloads: readonly Workload[],
  pods: readonly Pod[],
): RolloutProgress {
  const out: RolloutProgress = {
    ready: true,
    desiredReplicas: 0,
    updatedReplicas: 0,
    readyReplicas: 0,
    availableReplicas: 0,
    workloads: [],
    pods: [],
  };
  for (const e of expected) {
    const live = workloads.find((w) => w.kind === e.kind && w.namespace === namespace && w.name === e.name);
    const observed =
      live !== undefined &&
      (e.generation === null || (live.generation >= e.generation && live.observedGeneration >= e.generation));
    const replicas = live?.replicas ?? 0;
    const ready =
      live !== undefined &&
      observed &&
      live.observedGeneration >= live.generation &&
      live.updatedReplicas >= replicas &&
      live.readyReplicas >= replicas &&
      live.availableReplicas >= replicas;
    out.workloads.push({
      kind: e.kind,
      name: e.name,
      replicas,
      updatedReplicas: live?.updatedReplicas ?? 0,
      readyReplicas: live?.readyReplicas ?? 0,
      availableReplicas: live?.availableReplicas ?? 0,
      observed,
      ready,
    });
    out.desiredReplicas += replicas;
    out.updatedReplicas += live?.updatedReplicas ?? 0;
    out.readyReplicas += live?.readyReplicas ?? 0;
    out.availableReplicas += live?.availableReplicas ?? 0;
    if (!ready) out.ready = false;
  }
  for (const pod of pods) {
    if (pod.namespace !== namespace || pod.owner === undefined) continue;
    const owner = pod.owner;
    if (!expected.some((e) => e.kind === owner.kind && e.name === owner.name)) continue;
    out.pods.push(rolloutPod(pod));
  }
  out.pods.sort((a, b) => Number(a.ready) - Number(b.ready) || a.name.localeCompare(b.name));
  return out;
}

function rolloutPod(pod: Pod): RolloutPod {
  const containers = [...(pod.initContainers ?? []), ...pod.containers];
  const troubled = containers.find((c) => !c.ready && c.reason !== undefined);
  return {
    name: pod.name,
    phase: pod.phase,
    ready: pod.containers.length > 0 && pod.containers.every((c) => c.ready),
    restarts: pod.containers.reduce((n, c) => n + c.restarts, 0),
    reason: troubled?.reason ?? null,
    workload: `${pod.owner?.kind ?? 'Pod'}/${pod.owner?.name ?? pod.name}`,
  };
}

/** A one-line account of why a rollout is not ready, for the incident's title and evidence. */
export function stallSummary(progress: RolloutProgress): string {
  const reasons = new Map<string, number>();
  for (const pod of progress.pods) {
    if (!pod.ready && pod.reason !== null) reasons.set(pod.reason, (reasons.get(pod.reason) ?? 0) + 1);
  }
  const why = [...reasons.entries()].map(([reason, n]) => `${n} pod${n === 1 ? '' : 's'} ${reason}`).join(', ');
  const counts = `${progress.readyReplicas}/${progress.desiredReplicas} ready, ${progress.updatedReplicas} updated`;
  return why === '' ? counts : `${counts}; ${why}`;
}
