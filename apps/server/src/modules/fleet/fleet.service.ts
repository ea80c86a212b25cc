import {
  PAGE_LIMIT_DEFAULT,
  IMAGES_LIMIT_DEFAULT,
  type ClusterStatus,
  type FleetItem,
  type FleetResponse,
  type ImageList,
  type ImageRow,
  type ImagesQuery,
  type PodPage,
  type PodRow,
  type PodsQuery,
} from '@niro/protocol';
import { iso, isoOrNull, type Clock } from '../../clock.js';
import { BadRequestError } from '../../errors.js';
import { sha256Hex } from '../../lib/ids.js';
import { parseCapabilities, parseLabels, toClusterSummary } from '../clusters/clusters.service.js';
import type { AccessScope } from '../orgs/access.js';
import type { FleetPodRow, FleetRepository, PodKey } from './fleet.repository.js';

const STATUSES: readonly ClusterStatus[] = ['pending', 'healthy', 'warning', 'critical', 'unknown', 'offline'];

/** A serialized GET /fleet body and its strong validator. */
export type FleetDocument = { body: string; etag: string };

export class FleetService {
  constructor(
    private readonly repo: FleetRepository,
    private readonly clock: Clock,
  ) {}

  /**
   * The fleet of every visible cluster, serialized once. The ETag hashes everything but
   * `generatedAt`, so an unchanged fleet revalidates with 304 instead of differing by a timestamp.
   */
  async fleet(scope: AccessScope): Promise<FleetDocument> {
    const [rows, incidentCounts] = await Promise.all([
      this.repo.clusters(scope.orgIds),
      this.repo.openIncidentCounts(scope.orgIds),
    ]);
    const openIncidents = new Map<string, FleetItem['openIncidents']>();
    for (const c of incidentCounts) {
      const counts = openIncidents.get(c.cluster_id) ?? { high: 0, medium: 0, low: 0 };
      counts[c.severity] += c.n;
      openIncidents.set(c.cluster_id, counts);
    }
    const byStatus: Record<string, number> = {};
    for (const s of STATUSES) byStatus[s] = 0;
    let nodes = 0;
    let pods = 0;
    // Many clusters share a label set; parse each distinct one once.
    const labelSets = new Map<string, Record<string, string>>();
    const capabilitySets = new Map<string | null, FleetItem['capabilities']>();
    const capabilitiesOf = (text: string | null): FleetItem['capabilities'] => {
      let caps = capabilitySets.get(text);
      if (caps === undefined) {
        caps = parseCapabilities(text);
        capabilitySets.set(text, caps);
      }
      return caps;
    };
    const clusters: FleetItem[] = rows.map((row) => {
      let labels = labelSets.get(row.labels);
      if (labels === undefined) {
        labels = parseLabels(row.labels);
        labelSets.set(row.labels, labels);
      }
      byStatus[row.status] = (byStatus[row.status] ?? 0) + 1;
      nodes += row.nodes_total;
      pods += row.pods_total;
      return {
        id: row.id,
        orgId: row.org_id,
        name: row.name,
        environment: row.environment,
        labels,
        status: row.status,
        lastHeartbeatAt: isoOrNull(row.last_heartbeat_at),
        kubernetesVersion: row.kubernetes_version,
        agentVersion: row.agent_version,
        capabilities: capabilitiesOf(row.capabilities),
        summary: toClusterSummary(row),
        openIncidents: openIncidents.get(row.id) ?? { high: 0, medium: 0, low: 0 },
      };
    });
    const totals: FleetResponse['totals'] = { clusters: rows.length, byStatus, nodes, pods };
    const data = `"totals":${JSON.stringify(totals)},"clusters":${JSON.stringify(clusters)}`;
    const generatedAt = JSON.stringify(iso(this.clock.now()));
    return { body: `{"generatedAt":${generatedAt},${data}}`, etag: `"${sha256Hex(data)}"` };
  }

  async pods(scope: AccessScope, query: PodsQuery): Promise<PodPage> {
    const limit = query.limit ?? PAGE_LIMIT_DEFAULT;
    const rows = await this.repo.pods(scope.orgIds, {
      clusterId: query.cluster,
      namespace: query.namespace,
      status: query.status,
      nameContains: query.q,
      image: query.image,
      after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toPodRow),
      nextCursor:
        rows.length > limit && last !== undefined ? encodeCursor([last.cluster_id, last.namespace, last.name]) : null,
    };
  }

  async images(scope: AccessScope, query: ImagesQuery): Promise<ImageList> {
    const rows = await this.repo.images(scope.orgIds, {
      contains: query.q,
      limit: query.limit ?? IMAGES_LIMIT_DEFAULT,
    });
    const items: ImageRow[] = [];
    for (const row of rows) {
      let item = items[items.length - 1];
      if (item === undefined || item.image !== row.image) {
        item = { image: row.image, clusters: [] };
        items.push(item);
      }
      item.clusters.push({ clusterId: row.cluster_id, clusterName: row.cluster_name, pods: row.pods });
    }
    return { items };
  }
}

function toPodRow(row: FleetPodRow): PodRow {
  return {
    clusterId: row.cluster_id,
    clusterName: row.cluster_name ?? '',
    namespace: row.namespace,
    name: row.name,
    phase: row.phase,
    status: row.status,
    nodeName: row.node_name,
    restarts: row.restarts,
    readyContainers: row.ready_containers,
    totalContainers: row.total_containers,
    images: parseImages(row.images),
    ownerKind: row.owner_kind,
    ownerName: row.owner_name,
    startedAt: row.started_at,
  };
}

function parseImages(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((i): i is string => typeof i === 'string') : [];
  } catch {
    return [];
  }
}

/** Cursors are opaque to clients: the last row's primary key, base64url JSON. */
function encodeCursor(key: PodKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor(cursor: string): PodKey {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (Array.isArray(v) && v.length === 3) {
    const [clusterId, namespace, name]: unknown[] = v;
    if (typeof clusterId === 'string' && typeof namespace === 'string' && typeof name === 'string') {
      return [clusterId, namespace, name];
    }
  }
  throw new BadRequestError('invalid_request', 'Invalid request: querystring.cursor: is not a cursor from this API', {
    fields: [{ field: 'querystring.cursor', message: 'is not a cursor from this API' }],
  });
}
