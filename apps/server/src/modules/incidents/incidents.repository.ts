import type { Kysely, Selectable } from 'kysely';
import type { ClustersTable, Database, IncidentEventsTable, IncidentsTable } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';

export type IncidentSeverity = IncidentsTable['severity'];

export type OpenIncident = {
  id: string;
  clusterId: string | null;
  type: string;
  severity: IncidentSeverity;
  fingerprint: string;
};

export type NewIncident = {
  orgId: string | null;
  clusterId: string | null;
  type: string;
  severity: IncidentSeverity;
  scope: string;
  fingerprint: string;
  title: string;
  details?: unknown;
};

export type IncidentRow = Selectable<IncidentsTable>;
export type IncidentListRow = IncidentRow & { cluster_name: string | null };
export type ClusterInfo = Pick<ClustersTable, 'id' | 'org_id' | 'name' | 'environment' | 'labels' | 'status'>;

export type IncidentFilter = {
  clusterId?: string;
  type?: string;
  severities?: readonly IncidentSeverity[];
  state?: IncidentsTable['state'] | 'open';
  /** Keyset: rows older than this (opened_at, id). */
  after?: readonly [number, string];
  limit: number;
};

/** Largest IN list per statement; both dialects take far more, this keeps statements small. */
const IN_CHUNK = 500;

/**
 * Incidents as rows. An open incident (firing or acknowledged) holds its fingerprint in
 * `open_fingerprint`, whose unique index keeps at most one open incident per fingerprint.
 * Works on the database or inside a transaction (pass the transaction as `db`).
 */
export class IncidentsRepository {
  constructor(readonly db: Kysely<Database>) {}

  /** Opens an incident unless one with the same fingerprint is already open; true when it opened. */
  async open(incident: NewIncident, now: number): Promise<boolean> {
    const result = await this.db
      .insertInto('incidents')
      .values({
        id: newId(now),
        org_id: incident.orgId,
        cluster_id: incident.clusterId,
        type: incident.type,
        severity: incident.severity,
        scope: incident.scope,
        fingerprint: incident.fingerprint,
        state: 'firing',
        title: incident.title,
        details: incident.details === undefined ? null : JSON.stringify(incident.details),
        opened_at: now,
        updated_at: now,
        acknowledged_at: null,
        acknowledged_by: null,
        resolved_at: null,
        open_fingerprint: incident.fingerprint,
      })
      .onConflict((oc) => oc.column('open_fingerprint').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Resolves the open incidents with these fingerprints; returns how many were open. */
  async resolve(fingerprints: readonly string[], now: number): Promise<number> {
    let resolved = 0;
    for (let i = 0; i < fingerprints.length; i += IN_CHUNK) {
      const chunk = fingerprints.slice(i, i + IN_CHUNK);
      const result = await this.db
        .updateTable('incidents')
        .set({ state: 'resolved', resolved_at: now, updated_at: now, open_fingerprint: null })
        .where('open_fingerprint', 'in', chunk)
        .executeTakeFirst();
      resolved += Number(result.numUpdatedRows);
    }
    return resolved;
  }

  /**
   * Opens an incident (with its evidence) unless one with the same fingerprint is already open;
   * the new id, or null. `notified` marks the opening as handed to the outbox in this transaction.
   */
  async openReturningId(
    incident: NewIncident & { evidence?: unknown },
    now: number,
    notified: boolean,
  ): Promise<string | null> {
    const id = newId(now);
    const result = await this.db
      .insertInto('incidents')
      .values({
        id,
        org_id: incident.orgId,
        cluster_id: incident.clusterId,
        type: incident.type,
        severity: incident.severity,
        scope: incident.scope,
        fingerprint: incident.fingerprint,
        state: 'firing',
        title: incident.title,
        details: incident.details === undefined ? null : JSON.stringify(incident.details),
        evidence: incident.evidence === undefined ? null : JSON.stringify(incident.evidence),
        opened_at: now,
        updated_at: now,
        acknowledged_at: null,
        acknowledged_by: null,
        resolved_at: null,
        open_fingerprint: incident.fingerprint,
        open_notified_at: notified ? now : null,
        resolve_notified_at: null,
      })
      .onConflict((oc) => oc.column('open_fingerprint').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0 ? id : null;
  }

  /** Resolves the open incidents with these fingerprints and returns them as resolved. */
  async resolveReturning(fingerprints: readonly string[], now: number, notified: boolean): Promise<IncidentRow[]> {
    const out: IncidentRow[] = [];
    for (let i = 0; i < fingerprints.length; i += IN_CHUNK) {
      const chunk = fingerprints.slice(i, i + IN_CHUNK);
      const rows = await this.db
        .updateTable('incidents')
        .set({
          state: 'resolved',
          resolved_at: now,
          updated_at: now,
          open_fingerprint: null,
          resolve_notified_at: notified ? now : null,
        })
        .where('open_fingerprint', 'in', chunk)
        .returningAll()
        .execute();
      out.push(...rows);
    }
    return out;
  }

  async findById(id: string): Promise<IncidentRow | undefined> {
    return this.db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findOpenByFingerprint(fingerprint: string): Promise<IncidentRow | undefined> {
    return this.db.selectFrom('incidents').selectAll().where('open_fingerprint', '=', fingerprint).executeTakeFirst();
  }

  /** The open incidents of one cluster of the given types (what the heartbeat detectors own). */
  async openOfCluster(clusterId: string, types: readonly string[]): Promise<IncidentRow[]> {
    return this.db
      .selectFrom('incidents')
      .selectAll()
      .where('cluster_id', '=', clusterId)
      .where('open_fingerprint', 'is not', null)
      .where('type', 'in', types)
      .execute();
  }

  /** Incidents whose opening or resolution has not been handed to the outbox yet (oldest first). */
  async unnotified(limit: number): Promise<IncidentRow[]> {
    const opened = await this.db
      .selectFrom('incidents')
      .selectAll()
      .where('open_notified_at', 'is', null)
      .orderBy('opened_at')
      .limit(limit)
      .execute();
    const resolved = await this.db
      .selectFrom('incidents')
      .selectAll()
      .where('resolve_notified_at', 'is', null)
      .where('state', '=', 'resolved')
      .orderBy('resolved_at')
      .limit(limit)
      .execute();
    const byId = new Map<string, IncidentRow>();
    for (const r of [...opened, ...resolved]) byId.set(r.id, r);
    return [...byId.values()];
  }

  /** Claims the notification of a transition (compare-and-set); false when someone else did it. */
  async claimNotification(id: string, transition: 'open' | 'resolve', now: number): Promise<boolean> {
    const column = transition === 'open' ? 'open_notified_at' : 'resolve_notified_at';
    const result = await this.db
      .updateTable('incidents')
      .set({ [column]: now })
      .where('id', '=', id)
      .where(column, 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async acknowledge(id: string, by: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('incidents')
      .set({ state: 'acknowledged', acknowledged_at: now, acknowledged_by: by, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'firing')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Deletes a resolved incident (and its timeline); false when it is not resolved (or gone). */
  async deleteResolved(id: string): Promise<boolean> {
    await this.db.deleteFrom('incident_events').where('incident_id', '=', id).execute();
    const result = await this.db
      .deleteFrom('incidents')
      .where('id', '=', id)
      .where('state', '=', 'resolved')
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async setEvidence(id: string, evidence: unknown, now: number): Promise<void> {
    await this.db
      .updateTable('incidents')
      .set({ evidence: JSON.stringify(evidence), updated_at: now })
      .where('id', '=', id)
      .execute();
  }

  async addEvent(event: Omit<IncidentEventsTable, 'id'>): Promise<void> {
    await this.db
      .insertInto('incident_events')
      .values({ id: newId(event.at), ...event })
      .execute();
  }

  async events(incidentId: string): Promise<IncidentEventsTable[]> {
    return this.db
      .selectFrom('incident_events')
      .selectAll()
      .where('incident_id', '=', incidentId)
      .orderBy('at')
      .orderBy('id')
      .execute();
  }

  /** Newest first, keyset on (opened_at, id). */
  async list(orgIds: readonly string[], filter: IncidentFilter): Promise<IncidentListRow[]> {
    if (orgIds.length === 0) return [];
    let q = this.db
      .selectFrom('incidents')
      .leftJoin('clusters', 'clusters.id', 'incidents.cluster_id')
      .selectAll('incidents')
      .select('clusters.name as cluster_name')
      // Fleet-wide incidents (fleet_connectivity) belong to no org and concern everyone.
      .where((eb) => eb.or([eb('incidents.org_id', 'in', orgIds), eb('incidents.org_id', 'is', null)]));
    if (filter.clusterId !== undefined) q = q.where('incidents.cluster_id', '=', filter.clusterId);
    if (filter.type !== undefined) q = q.where('incidents.type', '=', filter.type);
    if (filter.severities !== undefined) q = q.where('incidents.severity', 'in', filter.severities);
    if (filter.state === 'open') q = q.where('incidents.open_fingerprint', 'is not', null);
    else if (filter.state !== undefined) q = q.where('incidents.state', '=', filter.state);
    const after = filter.after;
    if (after !== undefined) {
      q = q.where((eb) =>
        eb.or([
          eb('incidents.opened_at', '<', after[0]),
          eb.and([eb('incidents.opened_at', '=', after[0]), eb('incidents.id', '<', after[1])]),
        ]),
      );
    }
    return q.orderBy('incidents.opened_at', 'desc').orderBy('incidents.id', 'desc').limit(filter.limit).execute();
  }

  async clusterOf(clusterId: string): Promise<ClusterInfo | undefined> {
    return this.db
      .selectFrom('clusters')
      .select(['id', 'org_id', 'name', 'environment', 'labels', 'status'])
      .where('id', '=', clusterId)
      .executeTakeFirst();
  }

  /**
   * Moves a reporting cluster between healthy, warning and critical by its open incidents, in the
   * transaction that opened or resolved one (the status job does the same every few seconds).
   */
  async refreshClusterStatus(clusterId: string, now: number): Promise<void> {
    const rows = await this.db
      .selectFrom('incidents')
      .select('severity')
      .where('cluster_id', '=', clusterId)
      .where('open_fingerprint', 'is not', null)
      .where('type', '!=', CLUSTER_OFFLINE)
      .execute();
    const status = rows.some((r) => r.severity === 'high') ? 'critical' : rows.length > 0 ? 'warning' : 'healthy';
    await this.db
      .updateTable('clusters')
      .set({ status, status_changed_at: now })
      .where('id', '=', clusterId)
      .where('status', 'in', ['healthy', 'warning', 'critical'])
      .where('status', '!=', status)
      .execute();
  }

  async settingsOf(orgId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('org_incident_settings')
      .select('settings')
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return row?.settings;
  }

  async putSettings(orgId: string, settings: string, now: number, by: string | null): Promise<void> {
    await this.db
      .insertInto('org_incident_settings')
      .values({ org_id: orgId, settings, updated_at: now, updated_by: by })
      .onConflict((oc) => oc.column('org_id').doUpdateSet({ settings, updated_at: now, updated_by: by }))
      .execute();
  }

  /** The stored snapshot document of a cluster (what the detectors start from after a restart). */
  async snapshotDoc(clusterId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('cluster_snapshots')
      .select('doc')
      .where('cluster_id', '=', clusterId)
      .executeTakeFirst();
    return row?.doc;
  }

  async listOpen(): Promise<OpenIncident[]> {
    const rows = await this.db
      .selectFrom('incidents')
      .select(['id', 'cluster_id', 'type', 'severity', 'fingerprint'])
      .where('open_fingerprint', 'is not', null)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      clusterId: r.cluster_id,
      type: r.type,
      severity: r.severity,
      fingerprint: r.fingerprint,
    }));
  }
}

/** Fingerprint `cluster + type + scope` (DESIGN 4.2). */
export const incidentFingerprint = (clusterId: string, type: string, scope: string): string =>
  `${clusterId}:${type}:${scope}`;

export const CLUSTER_OFFLINE = 'cluster_offline';
export const FLEET_CONNECTIVITY = 'fleet_connectivity';
export const FLEET_CONNECTIVITY_FINGERPRINT = `fleet:${FLEET_CONNECTIVITY}`;
export const clusterOfflineFingerprint = (clusterId: string): string =>
  incidentFingerprint(clusterId, CLUSTER_OFFLINE, 'cluster');
