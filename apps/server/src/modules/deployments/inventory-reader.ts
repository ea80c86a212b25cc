import { Pod, Workload } from '@niro/protocol';
import { Value } from 'typebox/value';
import { isRecord } from '../../lib/validation.js';
import type { ClustersRepository } from '../clusters/clusters.repository.js';
import type { HeartbeatService } from '../heartbeat/heartbeat.service.js';

export type ClusterInventory = { workloads: Workload[]; pods: Pod[]; reportedAt: number | null };

/**
 * A cluster's workloads and pods for rollout progress: from the inventory this replica holds in
 * memory (fresh with every heartbeat it receives), else from the stored snapshot document.
 */
export class InventoryReader {
  constructor(
    private readonly heartbeat: HeartbeatService,
    private readonly clusters: ClustersRepository,
  ) {}

  async read(clusterId: string, withPods: boolean): Promise<ClusterInventory> {
    const cluster = await this.clusters.findById(clusterId);
    const reportedAt = cluster?.last_heartbeat_at ?? null;
    const held = this.heartbeat.heldWorkloads(clusterId);
    if (held !== undefined) {
      const workloads = [...held.values()].map(parse).filter(isWorkload);
      const heldPods = withPods ? (this.heartbeat.heldObjects(clusterId)?.pods.values() ?? []) : [];
      const pods = [...heldPods].map((p) => parse(p.json)).filter(isPod);
      return { workloads, pods, reportedAt };
    }
    const text = await this.clusters.snapshotDoc(clusterId);
    if (text === null) return { workloads: [], pods: [], reportedAt };
    const doc: unknown = JSON.parse(text);
    if (!isRecord(doc)) return { workloads: [], pods: [], reportedAt };
    const workloads = (Array.isArray(doc.workloads) ? doc.workloads : []).filter(isWorkload);
    const pods = withPods ? (Array.isArray(doc.pods) ? doc.pods : []).filter(isPod) : [];
    return { workloads, pods, reportedAt };
  }
}

const parse = (text: string): unknown => JSON.parse(text);
const isWorkload = (value: unknown): value is Workload => Value.Check(Workload, value);
const isPod = (value: unknown): value is Pod => Value.Check(Pod, value);
