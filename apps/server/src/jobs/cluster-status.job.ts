import type { Kysely } from 'kysely';
import { iso, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { ClustersTable, Database } from '../db/schema.js';
import type { Metrics } from '../lib/metrics.js';
import type { Logger } from '../logger.js';
import {
  CLUSTER_OFFLINE,
  FLEET_CONNECTIVITY,
  FLEET_CONNECTIVITY_FINGERPRINT,
  IncidentsRepository,
  clusterOfflineFingerprint,
  type IncidentSeverity,
  type NewIncident,
} from '../modules/incidents/incidents.repository.js';

export type ClusterStatus = ClustersTable['status'];
const STATUSES: readonly ClusterStatus[] = ['pending', 'healthy', 'warning', 'critical', 'unknown', 'offline'];

export type ClusterStatusJobOptions = {
  tickIntervalMs: number;
  /** Heartbeat intervals without a heartbeat before a cluster is `unknown` (DESIGN 4.1: 3). */
  unknownAfterIntervals: number;
  /**
   * Fewest silent clusters that count as a fleet-wide silence: below it one or two clusters of a
   * tiny fleet going offline are ordinary cluster_offline incidents, not a connectivity problem.
   */
  massSilenceMinClusters: number;
};

export const DEFAULT_STATUS_JOB_OPTIONS: ClusterStatusJobOptions = {
  tickIntervalMs: 5_000,
  unknownAfterIntervals: 3,
  massSilenceMinClusters: 3,
};

type ClusterRow = {
  id: string;
  org_id: string;
  name: string;
  status: ClusterStatus;
  last_heartbeat_at: number | null;
  agent_key_hash: string | null;
};

const SEVERITY_RANK: Record<IncidentSeverity, number> = { low: 1, medium: 2, high: 3 };

/**
 * Computes each cluster's status from its last heartbeat and its open incidents (DESIGN 4.1):
 * pending (never reported), offline, unknown, critical, warning, healthy, in that order. It
 * opens and resolves the `cluster_offline` and `fleet_connectivity` incidents. A heartbeat
 * revives a cluster at once (set by the ingest); this job only moves clusters down, and back
 * between healthy, warning and critical.
 */
export class ClusterStatusJob {
  private readonly options: ClusterStatusJobOptions;
  private readonly incidents: IncidentsRepository;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** The start-up grace counts from here: no cluster goes offline before one offline window has passed. */
  private startedAt: number;
  /** Runs at the end of every pass (the incidents module notifies transitions written here). */
  private after: (() => Promise<unknown>) | null = null;

  constructor(
    readonly db: Kysely<Database>,
    readonly clock: Clock,
    readonly config: Config,
    readonly logger: Logger,
    readonly metrics: Metrics,
    options: Partial<ClusterStatusJobOptions> = {},
  ) {
    this.options = { ...DEFAULT_STATUS_JOB_OPTIONS, ...options };
    this.incidents = new IncidentsRepository(db);
    this.startedAt = clock.now();
  }

  afterPass(hook: () => Promise<unknown>): void {
    this.after = hook;
  }

  start(): void {
    if (this.timer !== null) return;
    this.startedAt = this.clock.now();
    this.timer = setInterval(() => {
      this.tick().catch((err: unknown) => this.logger.error({ err }, 'cluster status job failed'));
    }, this.options.tickIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One pass over the fleet; concurrent calls share the pass in progress. */
  tick(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    const now = this.clock.now();
    const unknownAfterMs = this.options.unknownAfterIntervals * this.config.heartbeatIntervalSeconds * 1000;
    const offlineAfterMs = this.config.offlineAfterMs;

    const clusters: ClusterRow[] = await this.db
      .selectFrom('clusters')
      .select(['id', 'org_id', 'name', 'status', 'last_heartbeat_at', 'agent_key_hash'])
      .execute();
    const open = await this.incidents.listOpen();

    const offlineOpen = new Set<string>();
    const worst = new Map<string, number>();
    let fleetOpen = false;
    for (const i of open) {
      if (i.fingerprint === FLEET_CONNECTIVITY_FINGERPRINT) fleetOpen = true;
      if (i.clusterId === null) continue;
      if (i.type === CLUSTER_OFFLINE) offlineOpen.add(i.clusterId);
      else worst.set(i.clusterId, Math.max(worst.get(i.clusterId) ?? 0, SEVERITY_RANK[i.severity]));
    }

    // Statuses first (compare-and-set), so an incident only opens for a cluster that is offline.
    const status = new Map<string, ClusterStatus>();
    for (const c of clusters) {
      const next = this.statusOf(c, now, unknownAfterMs, offlineAfterMs, worst.get(c.id) ?? 0);
      status.set(c.id, next !== c.status && (await this.setStatus(c, next, now)) ? next : c.status);
    }

    // Mass silence: clusters already accounted for by their own offline incident are left out,
    // so a few long-dead clusters do not turn the next ordinary outage into a fleet incident.
    const enrolled = clusters.filter(
      (c) => (c.agent_key_hash !== null || c.last_heartbeat_at !== null) && !offlineOpen.has(c.id),
    );
    const silent = enrolled.filter((c) => c.last_heartbeat_at !== null && now - c.last_heartbeat_at >= unknownAfterMs);
    const massSilence = silent.length >= this.options.massSilenceMinClusters && silent.length * 2 > enrolled.length;

    const offlineWithoutIncident = clusters.filter((c) => status.get(c.id) === 'offline' && !offlineOpen.has(c.id));
    if (massSilence) {
      if (!fleetOpen && offlineWithoutIncident.length > 0) {
        await this.openIncident(
          {
            orgId: null,
            clusterId: null,
            type: FLEET_CONNECTIVITY,
            severity: 'high',
            scope: 'fleet',
            fingerprint: FLEET_CONNECTIVITY_FINGERPRINT,
            title: `${silent.length} of ${enrolled.length} clusters stopped reporting at the same time`,
            details: { silentClusters: silent.length, fleetSize: enrolled.length },
          },
          now,
        );
        this.logger.warn(
          { silentClusters: silent.length, fleetSize: enrolled.length },
          'more than half of the fleet went silent: one fleet_connectivity incident instead of one per cluster',
        );
      }
    } else {
      if (fleetOpen) {
        await this.incidents.resolve([FLEET_CONNECTIVITY_FINGERPRINT], now);
        this.logger.info('the fleet reports again: fleet_connectivity resolved');
      }
      for (const c of offlineWithoutIncident) {
        await this.openIncident(
          {
            orgId: c.org_id,
            clusterId: c.id,
            type: CLUSTER_OFFLINE,
            severity: 'high',
            scope: 'cluster',
            fingerprint: clusterOfflineFingerprint(c.id),
            title: `Cluster ${c.name} is offline`,
            details: { lastHeartbeatAt: c.last_heartbeat_at === null ? null : iso(c.last_heartbeat_at) },
          },
          now,
        );
      }
    }
    // A cluster reporting again had its offline incident resolved by the ingest; this catches
    // any left over (say, from a heartbeat that raced this pass).
    const back = [...offlineOpen].filter((id) => status.has(id) && status.get(id) !== 'offline');
    if (back.length > 0) await this.incidents.resolve(back.map(clusterOfflineFingerprint), now);

    const counts = new Map<ClusterStatus, number>(STATUSES.map((s) => [s, 0]));
    for (const s of status.values()) counts.set(s, (counts.get(s) ?? 0) + 1);
    for (const [s, n] of counts) this.metrics.clustersByStatus.labels(s).set(n);
    await this.after?.();
  }

  /** A cluster deleted during the pass makes its insert fail; that must not stop the pass. */
  private async openIncident(incident: NewIncident, now: number): Promise<void> {
    try {
      await this.incidents.open(incident, now);
    } catch (err) {
      this.logger.warn({ err, clusterId: incident.clusterId, type: incident.type }, 'could not open an incident');
    }
  }

  private statusOf(
    c: ClusterRow,
    now: number,
    unknownAfterMs: number,
    offlineAfterMs: number,
    worstSeverity: number,
  ): ClusterStatus {
    if (c.last_heartbeat_at === null) return 'pending';
    const silentMs = now - c.last_heartbeat_at;
    // Start-up grace: silence counts from the job's start at the earliest, so agents that were
    // cut off while this server was down get one full window to come back.
    if (now - Math.max(c.last_heartbeat_at, this.startedAt) >= offlineAfterMs) return 'offline';
    if (c.status === 'offline' && silentMs >= offlineAfterMs) return 'offline';
    if (silentMs >= unknownAfterMs) return 'unknown';
    if (worstSeverity >= SEVERITY_RANK.high) return 'critical';
    if (worstSeverity > 0) return 'warning';
    return 'healthy';
  }

  /**
   * Compare-and-set on the status and last heartbeat read at the start of the pass: a heartbeat
   * committed meanwhile has revived the cluster and wins.
   */
  private async setStatus(c: ClusterRow, status: ClusterStatus, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('clusters')
      .set({ status, status_changed_at: now })
      .where('id', '=', c.id)
      .where('status', '=', c.status)
      .where('last_heartbeat_at', c.last_heartbeat_at === null ? 'is' : '=', c.last_heartbeat_at)
      .executeTakeFirst();
    const changed = Number(result.numUpdatedRows) > 0;
    if (changed && (status === 'offline' || status === 'unknown')) {
      this.logger.info({ clusterId: c.id, orgId: c.org_id, from: c.status, to: status }, 'cluster status changed');
    } else if (changed) {
      this.logger.debug({ clusterId: c.id, orgId: c.org_id, from: c.status, to: status }, 'cluster status changed');
    }
    return changed;
  }
}
