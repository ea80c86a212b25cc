import { Pod, Workload, workloadKey } from '@niro/protocol';
import { Compile } from 'typebox/compile';
import { isRecord } from '../../lib/validation.js';
import type { ClustersRepository } from '../clusters/clusters.repository.js';
import type { HeartbeatService } from '../heartbeat/heartbeat.service.js';

/** What a rollout reads: one namespace, the workloads of the revision, and (for details) their pods. */
export type RolloutScope = {
  namespace: string;
  workloads: readonly { kind: string; name: string }[];
  withPods: boolean;
};

export type ClusterInventory = { workloads: Workload[]; pods: Pod[] };

const checkWorkload = Compile(Workload);
const checkPod = Compile(Pod);
const isWorkload = (value: unknown): value is Workload => checkWorkload.Check(value);
const isPod = (value: unknown): value is Pod => checkPod.Check(value);

/**
 * The workloads and pods of a rollout, from the inventory this replica holds in memory (fresh
 * with every heartbeat it receives) or else the stored snapshot document. Only what the rollout
 * needs is parsed: its workloads by key, and the pods of its namespace when asked for. This runs
 * on heartbeats, so it must stay cheap on clusters with thousands of pods.
 */
export class InventoryReader {
  constructor(
    private readonly heartbeat: HeartbeatService,
    private readonly clusters: ClustersRepository,
  ) {}

  /**
   * `documents` memoizes parsed snapshot documents across calls (a list reads several
   * deployments of one cluster).
   */
  async read(clusterId: string, scope: RolloutScope, documents?: Map<string, unknown>): Promise<ClusterInventory> {
    const held = this.heartbeat.heldWorkloads(clusterId);
    if (held !== undefined) {
      const workloads: Workload[] = [];
      for (const w of scope.workloads) {
        const json = held.get(workloadKey({ kind: w.kind, namespace: scope.namespace, name: w.name }));
        const value: unknown = json === undefined ? undefined : JSON.parse(json);
        if (isWorkload(value)) workloads.push(value);
      }
      const pods: Pod[] = [];
      if (scope.withPods) {
        const prefix = `${scope.namespace}/`;
        for (const [key, entry] of this.heartbeat.heldObjects(clusterId)?.pods ?? []) {
          if (!key.startsWith(prefix)) continue;
          const value: unknown = JSON.parse(entry.json);
          if (isPod(value)) pods.push(value);
        }
      }
      return { workloads, pods };
    }
    let doc = documents?.get(clusterId);
    if (doc === undefined) {
      const text = await this.clusters.snapshotDoc(clusterId);
      doc = text === null ? null : (JSON.parse(text) as unknown);
      documents?.set(clusterId, doc);
    }
    if (!isRecord(doc)) return { workloads: [], pods: [] };
    const workloads = (Array.isArray(doc.workloads) ? doc.workloads : []).filter(
      (w): w is Workload => isRecord(w) && w.namespace === scope.namespace && isWorkload(w),
    );
    const pods = scope.withPods
      ? (Array.isArray(doc.pods) ? doc.pods : []).filter(
          (p): p is Pod => isRecord(p) && p.namespace === scope.namespace && isPod(p),
        )
      : [];
    return { workloads, pods };
  }
}
