import { sql, type Kysely } from 'kysely';
import type { ClusterPodsTable, ClustersTable, Database } from '../../db/schema.js';

/** The clusters columns GET /fleet shows; everything else stays in the database. */
const FLEET_COLUMNS = [
  'id',
  'org_id',
  'name',
  'environment',
  'labels',
  'status',
  'last_heartbeat_at',
  'kubernetes_version',
  'agent_version',
  'capabilities',
  'nodes_total',
  'nodes_ready',
  'pods_total',
  'pods_running',
  'pods_pending',
  'pods_failed',
  'cpu_capacity_milli',
  'memory_capacity_bytes',
  'cpu_requests_milli',
  'memory_requests_bytes',
  'cpu_usage_milli',
  'memory_usage_bytes',
] as const;

export type FleetClusterRow = Pick<ClustersTable, (typeof FLEET_COLUMNS)[number]>;
export type FleetPodRow = ClusterPodsTable & { cluster_name: string | null };
export type FleetImageRow = { image: string; cluster_id: string; cluster_name: string; pods: number };

export type PodKey = readonly [clusterId: string, namespace: string, name: string];

export type PodFilter = {
  clusterId?: string;
  namespace?: string;
  status?: ClusterPodsTable['status'];
  nameContains?: string;
  /** An image reference one of the pod's containers runs, exactly. */
  image?: string;
  /** Keyset pagination: rows after this primary key. */
  after?: PodKey;
  limit: number;
};

/** Fleet-wide reads. Each is one statement over an index, whatever the fleet size (no N+1). */
export class FleetRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Every cluster of the given orgs with its summary columns, by name. */
  clusters(orgIds: readonly string[]): Promise<FleetClusterRow[]> {
    if (orgIds.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('clusters')
      .select(FLEET_COLUMNS)
      .where('org_id', 'in', orgIds)
      .orderBy('name')
      .orderBy('id')
      .execute();
  }

  /** Open (firing or acknowledged) incidents of the given orgs' clusters, counted per cluster and severity. */
  async openIncidentCounts(
    orgIds: readonly string[],
  ): Promise<{ cluster_id: string; severity: 'low' | 'medium' | 'high'; n: number }[]> {
    if (orgIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('incidents')
      .select(['cluster_id', 'severity', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('open_fingerprint', 'is not', null)
      .where('cluster_id', 'is not', null)
      .where('org_id', 'in', orgIds)
      .groupBy(['cluster_id', 'severity'])
      .execute();
    return rows.flatMap((r) =>
      r.cluster_id === null ? [] : [{ cluster_id: r.cluster_id, severity: r.severity, n: Number(r.n) }],
    );
  }

  /** Pods of visible clusters in primary-key order (cluster, namespace, name), from `after`. */
  pods(orgIds: readonly string[], filter: PodFilter): Promise<FleetPodRow[]> {
    if (orgIds.length === 0) return Promise.resolve([]);
    // Visibility as a semi-join on the cluster ids lets the database walk cluster_pods in
    // primary-key order and stop after `limit` rows, instead of joining and sorting every pod.
    let q = this.db
      .selectFrom('cluster_pods')
      .selectAll('cluster_pods')
      .select((eb) =>
        eb
          .selectFrom('clusters')
          .select('clusters.name')
          .whereRef('clusters.id', '=', 'cluster_pods.cluster_id')
          .as('cluster_name'),
      )
      .where('cluster_pods.cluster_id', 'in', (eb) =>
        eb.selectFrom('clusters').select('clusters.id').where('clusters.org_id', 'in', orgIds),
      );
    if (filter.clusterId !== undefined) q = q.where('cluster_pods.cluster_id', '=', filter.clusterId);
    if (filter.namespace !== undefined) q = q.where('cluster_pods.namespace', '=', filter.namespace);
    if (filter.status !== undefined) q = q.where('cluster_pods.status', '=', filter.status);
    if (filter.nameContains !== undefined && filter.nameContains !== '') {
      q = q.where(containsInsensitive('cluster_pods.name', filter.nameContains));
    }
    if (filter.image !== undefined && filter.image !== '') {
      // `images` is a JSON array of strings: the quoted reference matches one element exactly.
      q = q.where(containsInsensitive('cluster_pods.images', JSON.stringify(filter.image)));
    }
    const after = filter.after;
    if (after !== undefined) {
      q = q.where((eb) =>
        eb(
          eb.refTuple('cluster_pods.cluster_id', 'cluster_pods.namespace', 'cluster_pods.name'),
          '>',
          eb.tuple(after[0], after[1], after[2]),
        ),
      );
    }
    return q
      .orderBy('cluster_pods.cluster_id')
      .orderBy('cluster_pods.namespace')
      .orderBy('cluster_pods.name')
      .limit(filter.limit)
      .execute();
  }

  /**
   * Images run by visible clusters, one row per (image, cluster), for the first `limit` distinct
   * images in order. One statement: the subquery picks the images, the outer query their clusters.
   */
  images(orgIds: readonly string[], filter: { contains?: string; limit: number }): Promise<FleetImageRow[]> {
    if (orgIds.length === 0) return Promise.resolve([]);
    const contains = filter.contains !== undefined && filter.contains !== '' ? filter.contains : undefined;
    let first = this.db
      .selectFrom('cluster_images')
      .innerJoin('clusters', 'clusters.id', 'cluster_images.cluster_id')
      .select('cluster_images.image')
      .distinct()
      .where('clusters.org_id', 'in', orgIds);
    if (contains !== undefined) first = first.where(containsInsensitive('cluster_images.image', contains));
    first = first.orderBy('cluster_images.image').limit(filter.limit);
    return this.db
      .selectFrom('cluster_images')
      .innerJoin('clusters', 'clusters.id', 'cluster_images.cluster_id')
      .select([
        'cluster_images.image',
        'cluster_images.cluster_id',
        'clusters.name as cluster_name',
        'cluster_images.pods',
      ])
      .where('clusters.org_id', 'in', orgIds)
      .where('cluster_images.image', 'in', first)
      .orderBy('cluster_images.image')
      .orderBy('clusters.name')
      .orderBy('cluster_images.cluster_id')
      .execute();
  }
}

/** `column` contains `needle`, ignoring ASCII case, the same on SQLite and PostgreSQL. */
function containsInsensitive(column: string, needle: string) {
  const pattern = `%${needle.toLowerCase().replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
  return sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`;
}
