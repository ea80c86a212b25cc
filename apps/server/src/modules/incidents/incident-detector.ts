import { podKey, type Container, type IncidentSettings, type Node, type Pod } from '@niro/protocol';
import type { IncidentSeverity } from './incidents.repository.js';
import { incidentFingerprint } from './incidents.repository.js';

/** The incident types detected from heartbeats; only these resolve by themselves after clean heartbeats. */
export const HEARTBEAT_INCIDENT_TYPES = [
  'node_not_ready',
  'pod_crash_looping',
  'image_pull_error',
  'oom_killed',
  'agent_outdated',
] as const;
export type HeartbeatIncidentType = (typeof HEARTBEAT_INCIDENT_TYPES)[number];

/** DESIGN 4.2. */
export const INCIDENT_SEVERITY: Record<string, IncidentSeverity> = {
  cluster_offline: 'high',
  fleet_connectivity: 'high',
  node_not_ready: 'high',
  pod_crash_looping: 'high',
  image_pull_error: 'medium',
  oom_killed: 'medium',
  deployment_failed: 'high',
  drift_detected: 'medium',
  agent_outdated: 'low',
};

const PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff']);

export type RestartEntry = { at: number; pod: string; container: string; restarts: number; reason: string | null };

/** A condition present in a cluster right now, keyed by its fingerprint. */
export type DetectedCondition = {
  type: HeartbeatIncidentType;
  severity: IncidentSeverity;
  scope: string;
  fingerprint: string;
  title: string;
  /** "ns/name" of the pods behind it (pod conditions). */
  pods: string[];
  node?: string;
  /** What the detector saw of the pods' restarts (within the windows it keeps). */
  restartHistory: RestartEntry[];
  details: Record<string, unknown>;
};

export type OpenHeartbeatIncident = { id: string; type: string; fingerprint: string };

/** What one heartbeat changes: conditions to open, open incidents to resolve. */
export type Detection = { open: DetectedCondition[]; resolve: OpenHeartbeatIncident[] };

type PodFacts = {
  uid: string;
  scope: string;
  /** "Deployment shop/api", for titles. */
  label: string;
  /** Restart count per container ("c:name", "i:name" for init containers). */
  restarts: Map<string, number>;
  crashLoopBackOff: boolean;
  pullError: boolean;
};

/** Scope of a pod condition: its top owner, so one Deployment's pods make one incident. */
function podScope(pod: Pod): { scope: string; label: string } {
  const kind = pod.owner?.kind ?? 'Pod';
  const name = pod.owner?.name ?? pod.name;
  return { scope: `${pod.namespace}/${kind}/${name}`, label: `${kind} ${pod.namespace}/${name}` };
}

function allContainers(pod: Pod): [string, Container][] {
  const out: [string, Container][] = pod.containers.map((c) => [`c:${c.name}`, c]);
  for (const c of pod.initContainers ?? []) out.push([`i:${c.name}`, c]);
  return out;
}

/** Compares dotted versions numerically ("v0.10.1" > "0.9.9"); null when either is not one. */
export function compareVersions(a: string, b: string): number | null {
  const parse = (v: string): number[] | null => {
    const m = /^v?(\d+(?:\.\d+)*)/.exec(v.trim());
    return m?.[1] === undefined ? null : m[1].split('.').map(Number);
  };
  const pa = parse(a);
  const pb = parse(b);
  if (pa === null || pb === null) return null;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * One cluster's picture as the detectors need it: a few facts per pod (not its JSON, which the
 * heartbeat service already holds), the nodes that are not ready, the restarts seen recently,
 * and the open heartbeat incidents with how many heartbeats in a row their condition was absent.
 */
export class ClusterPicture {
  private readonly pods = new Map<string, PodFacts>();
  /** Pods worth a look on every heartbeat: a waiting reason, recent restarts or an OOM kill. */
  private readonly flagged = new Set<string>();
  private readonly history = new Map<string, RestartEntry[]>();
  private readonly oomKills = new Map<string, RestartEntry>();
  private readonly notReady = new Map<string, Node>();
  agentVersion: string | null = null;
  /** Open incidents of heartbeat types → consecutive heartbeats without their condition. */
  readonly open = new Map<string, OpenHeartbeatIncident & { absent: number }>();

  constructor(
    readonly clusterId: string,
    readonly orgId: string,
  ) {}

  /** A full inventory replaces the picture; restarts are counted against the pods known before. */
  applyFull(nodes: readonly Node[], pods: readonly Pod[], at: number): void {
    this.notReady.clear();
    for (const n of nodes) this.setNode(n);
    const seen = new Set<string>();
    for (const p of pods) {
      const key = podKey(p);
      seen.add(key);
      this.setPod(key, p, at);
    }
    for (const key of [...this.pods.keys()]) if (!seen.has(key)) this.removePod(key);
  }

  applyDelta(
    nodes: readonly Node[],
    pods: readonly Pod[],
    removedNodes: readonly string[],
    removedPods: readonly string[],
    at: number,
  ): void {
    for (const n of nodes) this.setNode(n);
    for (const name of removedNodes) this.notReady.delete(name);
    for (const p of pods) this.setPod(podKey(p), p, at);
    for (const key of removedPods) this.removePod(key);
  }

  private setNode(node: Node): void {
    if (node.ready) this.notReady.delete(node.name);
    else this.notReady.set(node.name, node);
  }

  private setPod(key: string, pod: Pod, at: number): void {
    const before = this.pods.get(key);
    const known = before !== undefined && before.uid === pod.uid ? before : undefined;
    if (before !== undefined && known === undefined) this.removePod(key);
    const { scope, label } = podScope(pod);
    const facts: PodFacts = {
      uid: pod.uid,
      scope,
      label,
      restarts: new Map(),
      crashLoopBackOff: false,
      pullError: false,
    };
    for (const [id, c] of allContainers(pod)) {
      facts.restarts.set(id, c.restarts);
      if (c.state === 'waiting' && c.reason === 'CrashLoopBackOff') facts.crashLoopBackOff = true;
      if (c.state === 'waiting' && c.reason !== undefined && PULL_REASONS.has(c.reason)) facts.pullError = true;
      const previous = known?.restarts.get(id);
      if (previous !== undefined && c.restarts > previous) {
        const entry: RestartEntry = {
          at,
          pod: key,
          container: c.name,
          restarts: c.restarts - previous,
          reason: c.lastTerminationReason ?? null,
        };
        const list = this.history.get(key) ?? [];
        list.push(entry);
        this.history.set(key, list);
        // An OOM kill counts when it comes with a restart: a pod that was killed long ago and
        // has run since still reports OOMKilled as its last termination.
        if (c.lastTerminationReason === 'OOMKilled') this.oomKills.set(key, entry);
      }
    }
    this.pods.set(key, facts);
    if (facts.crashLoopBackOff || facts.pullError || this.history.has(key) || this.oomKills.has(key)) {
      this.flagged.add(key);
    } else {
      this.flagged.delete(key);
    }
  }

  private removePod(key: string): void {
    this.pods.delete(key);
    this.flagged.delete(key);
    this.history.delete(key);
    this.oomKills.delete(key);
  }

  /** The conditions present now (cost: the flagged pods and not-ready nodes, not the whole cluster). */
  evaluate(
    now: number,
    settings: IncidentSettings,
    desiredAgentVersion: string | null,
  ): Map<string, DetectedCondition> {
    const present = new Map<string, DetectedCondition>();
    const crashWindowMs = settings.crashLoopWindowMinutes * 60_000;
    const oomWindowMs = settings.oomWindowMinutes * 60_000;
    const keepMs = Math.max(crashWindowMs, oomWindowMs);
    const add = (type: HeartbeatIncidentType, facts: PodFacts, key: string, title: (pods: number) => string): void => {
      const fingerprint = incidentFingerprint(this.clusterId, type, facts.scope);
      let c = present.get(fingerprint);
      if (c === undefined) {
        c = {
          type,
          severity: INCIDENT_SEVERITY[type] ?? 'medium',
          scope: facts.scope,
          fingerprint,
          title: '',
          pods: [],
          restartHistory: [],
          details: { owner: facts.label },
        };
        present.set(fingerprint, c);
      }
      c.pods.push(key);
      c.restartHistory.push(...(this.history.get(key) ?? []));
      c.title = title(c.pods.length);
    };
    const plural = (n: number): string => (n === 1 ? '1 pod' : `${n} pods`);

    for (const key of [...this.flagged]) {
      const facts = this.pods.get(key);
      if (facts === undefined) {
        this.flagged.delete(key);
        continue;
      }
      const recent = (this.history.get(key) ?? []).filter((e) => now - e.at < keepMs);
      if (recent.length > 0) this.history.set(key, recent);
      else this.history.delete(key);
      const oom = this.oomKills.get(key);
      if (oom !== undefined && now - oom.at >= oomWindowMs) this.oomKills.delete(key);

      const restartsInWindow = recent.filter((e) => now - e.at < crashWindowMs).reduce((n, e) => n + e.restarts, 0);
      if (facts.crashLoopBackOff || restartsInWindow >= settings.crashLoopRestarts) {
        add('pod_crash_looping', facts, key, (n) => `${facts.label} is crash-looping (${plural(n)})`);
      }
      if (facts.pullError) {
        add('image_pull_error', facts, key, (n) => `${facts.label} cannot pull its image (${plural(n)})`);
      }
      if (this.oomKills.has(key)) {
        add('oom_killed', facts, key, (n) => `${facts.label} was OOM-killed (${plural(n)})`);
      }
      if (!facts.crashLoopBackOff && !facts.pullError && !this.history.has(key) && !this.oomKills.has(key)) {
        this.flagged.delete(key);
      }
    }

    for (const [name, node] of this.notReady) {
      const fingerprint = incidentFingerprint(this.clusterId, 'node_not_ready', name);
      present.set(fingerprint, {
        type: 'node_not_ready',
        severity: INCIDENT_SEVERITY.node_not_ready ?? 'high',
        scope: name,
        fingerprint,
        title: `Node ${name} is not ready`,
        pods: [],
        node: name,
        restartHistory: [],
        details: { node: name, conditions: node.conditions },
      });
    }

    if (desiredAgentVersion !== null && this.agentVersion !== null) {
      const cmp = compareVersions(this.agentVersion, desiredAgentVersion);
      if (cmp !== null && cmp < 0) {
        const fingerprint = incidentFingerprint(this.clusterId, 'agent_outdated', 'agent');
        present.set(fingerprint, {
          type: 'agent_outdated',
          severity: INCIDENT_SEVERITY.agent_outdated ?? 'low',
          scope: 'agent',
          fingerprint,
          title: `Agent ${this.agentVersion} is older than ${desiredAgentVersion}`,
          pods: [],
          restartHistory: [],
          details: { agentVersion: this.agentVersion, desiredAgentVersion },
        });
      }
    }
    return present;
  }

  /**
   * Compares the conditions present with the open incidents: a new condition opens; an open
   * incident whose condition is absent for `resolveAfterHeartbeats` heartbeats in a row resolves,
   * and one that comes back before that resets the count (so a flapping condition stays one
   * incident).
   */
  reconcile(present: ReadonlyMap<string, DetectedCondition>, settings: IncidentSettings): Detection {
    const open: DetectedCondition[] = [];
    const resolve: OpenHeartbeatIncident[] = [];
    for (const [fingerprint, c] of present) if (!this.open.has(fingerprint)) open.push(c);
    for (const [fingerprint, o] of this.open) {
      if (present.has(fingerprint)) {
        o.absent = 0;
      } else if (++o.absent >= settings.resolveAfterHeartbeats) {
        resolve.push({ id: o.id, type: o.type, fingerprint });
      }
    }
    return { open, resolve };
  }

  /** Warning events about the objects behind a condition (its pods, their owner, its node). */
  static relatedNames(c: DetectedCondition): Set<string> {
    const names = new Set<string>();
    for (const key of c.pods) names.add(key.slice(key.indexOf('/') + 1));
    if (c.node !== undefined) names.add(c.node);
    const owner = c.scope.split('/');
    if (owner.length === 3 && owner[2] !== undefined) names.add(owner[2]);
    return names;
  }
}
