import type { Kysely } from 'kysely';
import type { Database, IncidentsTable } from '../../db/schema.js';
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
const incidentFingerprint = (clusterId: string, type: string, scope: string): string => `${clusterId}:${type}:${scope}`;

export const CLUSTER_OFFLINE = 'cluster_offline';
export const FLEET_CONNECTIVITY = 'fleet_connectivity';
export const FLEET_CONNECTIVITY_FINGERPRINT = `fleet:${FLEET_CONNECTIVITY}`;
export const clusterOfflineFingerprint = (clusterId: string): string =>
  incidentFingerprint(clusterId, CLUSTER_OFFLINE, 'cluster');
