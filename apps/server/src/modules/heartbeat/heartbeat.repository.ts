import { sql, type Kysely, type Transaction } from 'kysely';
import type { ClusterImagesTable, ClusterPodsTable, ClusterSnapshotsTable, Database } from '../../db/schema.js';
import { IncidentsRepository, clusterOfflineFingerprint } from '../incidents/incidents.repository.js';
import type { DerivedChanges, InventorySummary, PodRow } from './inventory.model.js';

export type AgentCluster = { id: string; orgId: string };

/** What every accepted heartbeat writes on its `clusters` row. */
export type LivenessUpdate = {
  at: number;
  seq: number;
  agentVersion: string;
  kubernetesVersion: string;
  distribution: string;
  /** JSON of the four capability flags. */
  capabilities: string;
  cpuUsageMilli: number | null;
  memoryUsageBytes: number | null;
};

/**
 * The writes of one heartbeat; everything but `liveness` only when it changed. Without `liveness`
 * the item is a deferred document write (ADR 0002), not a heartbeat: it updates no liveness
 * column and resolves no incident.
 */
export type WriteItem = {
  clusterId: string;
  /** The key the heartbeat was authenticated with: a replaced key matches no row and writes nothing. */
  keyHash: string;
  liveness?: LivenessUpdate;
  summary?: InventorySummary;
  /** The document and the hash of the inventory it holds, always stored together; `at` is `updated_at`. */
  snapshot?: { hash: string; doc: string; at: number };
  derived?: DerivedChanges;
};

type HeartbeatItem = WriteItem & { liveness: LivenessUpdate };
const isHeartbeat = (i: WriteItem): i is HeartbeatItem => i.liveness !== undefined;

export type StoredSnapshot = { hash: string; doc: string; updatedAt: number };
export type StoredDerived = { pods: Map<string, PodRow>; images: Map<string, number> };

/** Rows per multi-row statement: well under both dialects' parameter limits (SQLite 32766). */
const ROWS_PER_STATEMENT = 250;
const POD_ROWS_PER_STATEMENT = 200;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const LIVE_STATUSES_SQL = sql`('pending', 'unknown', 'offline')`;

export class HeartbeatRepository {
  constructor(readonly db: Kysely<Database>) {}

  async findClusterByKeyHash(keyHash: string): Promise<AgentCluster | undefined> {
    const row = await this.db
      .selectFrom('clusters')
      .select(['id', 'org_id'])
      .where('agent_key_hash', '=', keyHash)
      .executeTakeFirst();
    return row === undefined ? undefined : { id: row.id, orgId: row.org_id };
  }

  async loadSnapshotMeta(clusterId: string): Promise<{ hash: string; updatedAt: number } | undefined> {
    const row = await this.db
      .selectFrom('cluster_snapshots')
      .select(['hash', 'updated_at'])
      .where('cluster_id', '=', clusterId)
      .executeTakeFirst();
    return row === undefined ? undefined : { hash: row.hash, updatedAt: row.updated_at };
  }

  async loadSnapshot(clusterId: string): Promise<StoredSnapshot | undefined> {
    const row = await this.db
      .selectFrom('cluster_snapshots')
      .select(['hash', 'doc', 'updated_at'])
      .where('cluster_id', '=', clusterId)
      .executeTakeFirst();
    return row === undefined ? undefined : { hash: row.hash, doc: row.doc, updatedAt: row.updated_at };
  }

  /** The derived rows as stored, to diff a full inventory against when memory holds none. */
  async loadDerived(clusterId: string): Promise<StoredDerived> {
    const [pods, images] = await Promise.all([
      this.db.selectFrom('cluster_pods').selectAll().where('cluster_id', '=', clusterId).execute(),
      this.db.selectFrom('cluster_images').select(['image', 'pods']).where('cluster_id', '=', clusterId).execute(),
    ]);
    return {
      pods: new Map(pods.map((r) => [`${r.namespace}/${r.name}`, podRowFromDb(r)])),
      images: new Map(images.map((r) => [r.image, r.pods])),
    };
  }

  /**
   * Writes a batch of heartbeats in one transaction (group commit) and returns the ids of the
   * clusters whose writes were applied. A heartbeat whose key no longer matches its cluster
   * (replaced, or the cluster was deleted meanwhile) writes nothing.
   */
  async writeBatch(items: readonly WriteItem[]): Promise<Set<string>> {
    // A stable row order keeps concurrent writers on PostgreSQL from deadlocking.
    const sorted = [...items].sort((a, b) => (a.clusterId < b.clusterId ? -1 : a.clusterId > b.clusterId ? 1 : 0));
    return this.db.transaction().execute(async (trx) => {
      const accepted = new Set<string>();
      const heartbeats = sorted.filter(isHeartbeat);
      for (const chunk of chunks(heartbeats, ROWS_PER_STATEMENT)) {
        for (const id of await updateLiveness(trx, chunk)) accepted.add(id);
      }
      const docOnly = sorted.filter((i) => !isHeartbeat(i));
      for (const chunk of chunks(docOnly, ROWS_PER_STATEMENT)) {
        for (const id of await keysStillValid(trx, chunk)) accepted.add(id);
      }
      const applied = sorted.filter((i) => accepted.has(i.clusterId));
      if (applied.length === 0) return accepted;

      // A cluster that reports is not offline: close its offline incident in the same commit.
      const incidents = new IncidentsRepository(trx);
      const byTime = new Map<number, string[]>();
      for (const i of applied) {
        if (!isHeartbeat(i)) continue;
        const list = byTime.get(i.liveness.at) ?? [];
        list.push(clusterOfflineFingerprint(i.clusterId));
        byTime.set(i.liveness.at, list);
      }
      for (const [at, fingerprints] of byTime) await incidents.resolve(fingerprints, at);

      const withSummary = applied.filter((i) => i.summary !== undefined);
      for (const chunk of chunks(withSummary, ROWS_PER_STATEMENT)) await updateSummaries(trx, chunk);

      await upsertSnapshots(trx, applied);
      await writeDerived(trx, applied);
      return accepted;
    });
  }
}

/** The clusters of deferred document writes whose key still matches (not replaced, not deleted). */
async function keysStillValid(trx: Transaction<Database>, items: readonly WriteItem[]): Promise<string[]> {
  const rows = await trx
    .selectFrom('clusters')
    .select(['id', 'agent_key_hash'])
    .where(
      'id',
      'in',
      items.map((i) => i.clusterId),
    )
    .execute();
  const keys = new Map(rows.map((r) => [r.id, r.agent_key_hash]));
  return items.filter((i) => keys.get(i.clusterId) === i.keyHash).map((i) => i.clusterId);
}

async function updateLiveness(trx: Transaction<Database>, items: readonly HeartbeatItem[]): Promise<string[]> {
  const values = items.map((i) => {
    const l = i.liveness;
    return sql`(${i.clusterId}, ${i.keyHash}, cast(${l.at} as bigint), cast(${l.seq} as bigint), ${l.agentVersion}, ${l.kubernetesVersion}, ${l.distribution}, ${l.capabilities}, cast(${l.cpuUsageMilli} as bigint), cast(${l.memoryUsageBytes} as bigint))`;
  });
  const result = await sql<{ id: string }>`
    with v(id, key_hash, at, seq, agent_version, kubernetes_version, distribution, capabilities, cpu_usage, memory_usage)
      as (values ${sql.join(values)})
    update clusters set
      last_heartbeat_at = v.at,
      last_seq = v.seq,
      agent_version = v.agent_version,
      kubernetes_version = v.kubernetes_version,
      distribution = v.distribution,
      capabilities = v.capabilities,
      cpu_usage_milli = v.cpu_usage,
      memory_usage_bytes = v.memory_usage,
      status = case when clusters.status in ${LIVE_STATUSES_SQL} then 'healthy' else clusters.status end,
      status_changed_at = case when clusters.status in ${LIVE_STATUSES_SQL} then v.at else clusters.status_changed_at end
    from v
    where clusters.id = v.id and clusters.agent_key_hash = v.key_hash
    returning clusters.id`.execute(trx);
  return result.rows.map((r) => r.id);
}

async function updateSummaries(trx: Transaction<Database>, items: readonly WriteItem[]): Promise<void> {
  const values = items.flatMap((i) => {
    const s = i.summary;
    if (s === undefined) return [];
    return [
      sql`(${i.clusterId}, cast(${s.nodesTotal} as bigint), cast(${s.nodesReady} as bigint), cast(${s.podsTotal} as bigint), cast(${s.podsRunning} as bigint), cast(${s.podsPending} as bigint), cast(${s.podsFailed} as bigint), cast(${s.cpuCapacityMilli} as bigint), cast(${s.memoryCapacityBytes} as bigint), cast(${s.cpuRequestsMilli} as bigint), cast(${s.memoryRequestsBytes} as bigint))`,
    ];
  });
  if (values.length === 0) return;
  await sql`
    with v(id, nodes_total, nodes_ready, pods_total, pods_running, pods_pending, pods_failed, cpu_capacity, memory_capacity, cpu_requests, memory_requests)
      as (values ${sql.join(values)})
    update clusters set
      nodes_total = v.nodes_total,
      nodes_ready = v.nodes_ready,
      pods_total = v.pods_total,
      pods_running = v.pods_running,
      pods_pending = v.pods_pending,
      pods_failed = v.pods_failed,
      cpu_capacity_milli = v.cpu_capacity,
      memory_capacity_bytes = v.memory_capacity,
      cpu_requests_milli = v.cpu_requests,
      memory_requests_bytes = v.memory_requests
    from v
    where clusters.id = v.id`.execute(trx);
}

/** Documents per statement: few, as each can be a megabyte or more. */
const SNAPSHOTS_PER_STATEMENT = 32;
const SNAPSHOT_BYTES_PER_STATEMENT = 16 * 1024 * 1024;

async function upsertSnapshots(trx: Transaction<Database>, items: readonly WriteItem[]): Promise<void> {
  const rows: ClusterSnapshotsTable[] = [];
  let bytes = 0;
  const write = async (): Promise<void> => {
    if (rows.length === 0) return;
    await trx
      .insertInto('cluster_snapshots')
      .values(rows)
      .onConflict((oc) =>
        oc.column('cluster_id').doUpdateSet((eb) => ({
          hash: eb.ref('excluded.hash'),
          doc: eb.ref('excluded.doc'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
    rows.length = 0;
    bytes = 0;
  };
  for (const i of items) {
    if (i.snapshot === undefined) continue;
    if (rows.length >= SNAPSHOTS_PER_STATEMENT || bytes + i.snapshot.doc.length > SNAPSHOT_BYTES_PER_STATEMENT) {
      await write();
    }
    rows.push({ cluster_id: i.clusterId, hash: i.snapshot.hash, doc: i.snapshot.doc, updated_at: i.snapshot.at });
    bytes += i.snapshot.doc.length;
  }
  await write();
}

/** Derived rows of the whole batch: deletes per cluster (rare), upserts in multi-row statements. */
async function writeDerived(trx: Transaction<Database>, items: readonly WriteItem[]): Promise<void> {
  const pods: ClusterPodsTable[] = [];
  const images: ClusterImagesTable[] = [];
  for (const { clusterId, derived: d } of items) {
    if (d === undefined) continue;
    for (const keys of chunks(d.podDeletes, ROWS_PER_STATEMENT)) {
      await trx
        .deleteFrom('cluster_pods')
        .where('cluster_id', '=', clusterId)
        .where(sql<string>`namespace || '/' || name`, 'in', keys)
        .execute();
    }
    for (const list of chunks(d.imageDeletes, ROWS_PER_STATEMENT)) {
      await trx.deleteFrom('cluster_images').where('cluster_id', '=', clusterId).where('image', 'in', list).execute();
    }
    for (const r of d.podUpserts) {
      pods.push({
        cluster_id: clusterId,
        namespace: r.namespace,
        name: r.name,
        phase: r.phase,
        status: r.status,
        node_name: r.nodeName,
        restarts: r.restarts,
        ready_containers: r.readyContainers,
        total_containers: r.totalContainers,
        images: JSON.stringify(r.images),
        owner_kind: r.ownerKind,
        owner_name: r.ownerName,
        started_at: r.startedAt,
      });
    }
    for (const r of d.imageUpserts) images.push({ cluster_id: clusterId, image: r.image, pods: r.pods });
  }
  for (const rows of chunks(pods, POD_ROWS_PER_STATEMENT)) {
    await trx
      .insertInto('cluster_pods')
      .values(rows)
      .onConflict((oc) =>
        oc.columns(['cluster_id', 'namespace', 'name']).doUpdateSet((eb) => ({
          phase: eb.ref('excluded.phase'),
          status: eb.ref('excluded.status'),
          node_name: eb.ref('excluded.node_name'),
          restarts: eb.ref('excluded.restarts'),
          ready_containers: eb.ref('excluded.ready_containers'),
          total_containers: eb.ref('excluded.total_containers'),
          images: eb.ref('excluded.images'),
          owner_kind: eb.ref('excluded.owner_kind'),
          owner_name: eb.ref('excluded.owner_name'),
          started_at: eb.ref('excluded.started_at'),
        })),
      )
      .execute();
  }
  for (const rows of chunks(images, ROWS_PER_STATEMENT)) {
    await trx
      .insertInto('cluster_images')
      .values(rows)
      .onConflict((oc) => oc.columns(['cluster_id', 'image']).doUpdateSet((eb) => ({ pods: eb.ref('excluded.pods') })))
      .execute();
  }
}

function podRowFromDb(r: ClusterPodsTable): PodRow {
  return {
    namespace: r.namespace,
    name: r.name,
    phase: r.phase,
    status: r.status,
    nodeName: r.node_name,
    restarts: r.restarts,
    readyContainers: r.ready_containers,
    totalContainers: r.total_containers,
    images: parseStringArray(r.images),
    ownerKind: r.owner_kind,
    ownerName: r.owner_name,
    startedAt: r.started_at,
  };
}

function parseStringArray(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
