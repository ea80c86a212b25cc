import {
  INCIDENTS_LIMIT_DEFAULT,
  Node,
  Pod,
  type Incident,
  type IncidentDetail,
  type IncidentPage,
  type IncidentSettings,
  type IncidentsQuery,
  type KubeEvent,
  type ObjectResult,
  type UpdateIncidentSettingsRequest,
} from '@niro/protocol';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { iso, isoOrNull, type Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import type { Database } from '../../db/schema.js';
import { ConflictError, NotFoundError } from '../../errors.js';
import { sha256Hex } from '../../lib/ids.js';
import { isRecord } from '../../lib/validation.js';
import type { Logger } from '../../logger.js';
import type { AuditService } from '../audit/audit.service.js';
import { auditActor, type Caller } from '../auth/principal.js';
import { parseLabels } from '../clusters/clusters.service.js';
import type { HeartbeatListener, HeartbeatObservation } from '../heartbeat/heartbeat.service.js';
import type { IncidentEvent } from '../notifications/notification-events.js';
import type { NotificationsService } from '../notifications/notifications.service.js';
import type { AccessScope } from '../orgs/access.js';
import {
  ClusterPicture,
  HEARTBEAT_INCIDENT_TYPES,
  INCIDENT_SEVERITY,
  type DetectedCondition,
  type Detection,
} from './incident-detector.js';
import { DEFAULT_INCIDENT_SETTINGS, settingsFromJson } from './incident-settings.js';
import {
  IncidentsRepository,
  incidentFingerprint,
  type ClusterInfo,
  type IncidentRow,
  type IncidentSeverity,
} from './incidents.repository.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';

/** Fetches the last log lines of a pod for an incident's evidence; resolves null when it cannot. */
export type EvidenceLogFetcher = (request: {
  clusterId: string;
  orgId: string;
  namespace: string;
  pod: string;
  container?: string;
  tailLines: number;
}) => Promise<string[] | null>;

export type IncidentsServiceOptions = {
  /** How long an org's settings are cached (other replicas' changes show up within this). */
  settingsCacheMs: number;
  /** Log lines captured into the evidence when the cluster's logs capability is on. */
  evidenceLogLines: number;
  /** Warning events and pods kept in an evidence bundle at most. */
  evidenceMaxEvents: number;
  evidenceMaxPods: number;
};

export const DEFAULT_INCIDENTS_OPTIONS: IncidentsServiceOptions = {
  settingsCacheMs: 30_000,
  evidenceLogLines: 100,
  evidenceMaxEvents: 20,
  evidenceMaxPods: 10,
};

const SEVERITY_RANK: Record<IncidentSeverity, number> = { low: 1, medium: 2, high: 3 };
const SEVERITIES: readonly IncidentSeverity[] = ['low', 'medium', 'high'];

const StoredLists = Compile(Type.Object({ nodes: Type.Array(Node), pods: Type.Array(Pod) }));
const checkPod = Compile(Pod);
const checkNode = Compile(Node);

/** A generic incident opened from outside the heartbeat detectors (deployments, drift). */
export type ExternalIncident = {
  clusterId: string;
  type: 'deployment_failed' | 'drift_detected';
  scope: string;
  title: string;
  details?: Record<string, unknown>;
  evidence?: Record<string, unknown>;
};

/**
 * Incident detection and lifecycle (DESIGN 4.2). Heartbeat detectors keep a small picture per
 * cluster in memory and compare it with each heartbeat that was just committed; opening and
 * resolving write the incident, its timeline, the cluster's status and the notifications in one
 * transaction. Evidence log lines are fetched afterwards and never hold up a heartbeat.
 */
export class IncidentsService implements HeartbeatListener {
  private readonly repo: IncidentsRepository;
  private readonly options: IncidentsServiceOptions;
  private readonly pictures = new Map<string, ClusterPicture>();
  private readonly settingsCache = new Map<string, { settings: IncidentSettings; at: number }>();
  private readonly background = new Set<Promise<void>>();
  private logFetcher: EvidenceLogFetcher | null = null;
  /** The agent version released with this server (the agent image's tag); null when it has none. */
  readonly desiredAgentVersion: string | null;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      clock: Clock;
      config: Config;
      logger: Logger;
      audit: AuditService;
      notifications: NotificationsService | null;
    },
    options: Partial<IncidentsServiceOptions> = {},
  ) {
    this.repo = new IncidentsRepository(deps.db);
    this.options = { ...DEFAULT_INCIDENTS_OPTIONS, ...options };
    this.desiredAgentVersion = agentVersionOfImage(deps.config.agentImage);
  }

  /** Where evidence log lines come from (modules/logs); without it no lines are captured. */
  fetchLogsWith(fetcher: EvidenceLogFetcher): void {
    this.logFetcher = fetcher;
  }

  /** Resolves once background work (evidence log lines) started so far is done. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeat detectors

  async heartbeatApplied(o: HeartbeatObservation): Promise<void> {
    const picture = await this.pictureOf(o);
    picture.agentVersion = o.agentVersion;
    const settings = await this.settingsFor(o.orgId);
    const present = picture.evaluate(o.at, settings, this.desiredAgentVersion);
    const detection = picture.reconcile(present, settings);
    if (detection.open.length === 0 && detection.resolve.length === 0) return;
    await this.commitDetection(picture, detection, o);
  }

  /** The cluster's picture, brought up to date with this heartbeat. */
  private async pictureOf(o: HeartbeatObservation): Promise<ClusterPicture> {
    let picture = this.pictures.get(o.clusterId);
    if (picture !== undefined) {
      const inv = o.inventory;
      if (inv.mode === 'full') picture.applyFull(inv.nodes, inv.pods, o.at);
      else if (inv.mode === 'delta') picture.applyDelta(inv.nodes, inv.pods, inv.removedNodes, inv.removedPods, o.at);
      return picture;
    }
    // First heartbeat of this cluster in this process: start from the whole inventory (which
    // already includes this heartbeat) and from the incidents already open.
    picture = new ClusterPicture(o.clusterId, o.orgId);
    const lists = o.inventory.mode === 'full' ? o.inventory : await this.wholeInventory(o);
    picture.applyFull(lists.nodes, lists.pods, o.at);
    for (const row of await this.repo.openOfCluster(o.clusterId, HEARTBEAT_INCIDENT_TYPES)) {
      picture.open.set(row.fingerprint, { id: row.id, type: row.type, fingerprint: row.fingerprint, absent: 0 });
    }
    this.pictures.set(o.clusterId, picture);
    return picture;
  }

  private async wholeInventory(o: HeartbeatObservation): Promise<{ nodes: Node[]; pods: Pod[] }> {
    const held = o.held();
    if (held !== undefined) {
      return { nodes: parseEach(held.nodes.values(), checkNode), pods: parseEach(held.pods.values(), checkPod) };
    }
    const doc = await this.repo.snapshotDoc(o.clusterId);
    if (doc !== undefined) {
      try {
        const value: unknown = JSON.parse(doc);
        if (StoredLists.Check(value)) return { nodes: value.nodes, pods: value.pods };
      } catch {
        // An unreadable document: start empty; the agent's next full inventory fills the picture.
      }
    }
    return { nodes: [], pods: [] };
  }

  private async commitDetection(picture: ClusterPicture, detection: Detection, o: HeartbeatObservation): Promise<void> {
    const opened: { id: string; condition: DetectedCondition }[] = [];
    const resolved: IncidentRow[] = [];
    await this.deps.db.transaction().execute(async (trx) => {
      const repo = new IncidentsRepository(trx);
      const cluster = await repo.clusterOf(o.clusterId);
      if (cluster === undefined) return;
      for (const c of detection.open) {
        const evidence = this.evidenceOf(c, o);
        const id = await repo.openReturningId(
          {
            orgId: cluster.org_id,
            clusterId: cluster.id,
            type: c.type,
            severity: c.severity,
            scope: c.scope,
            fingerprint: c.fingerprint,
            title: c.title,
            details: c.details,
            evidence,
          },
          o.at,
          true,
        );
        if (id === null) {
          // Opened meanwhile (another replica): take it over.
          const existing = await repo.findOpenByFingerprint(c.fingerprint);
          if (existing !== undefined) {
            picture.open.set(c.fingerprint, {
              id: existing.id,
              type: existing.type,
              fingerprint: c.fingerprint,
              absent: 0,
            });
          }
          continue;
        }
        await repo.addEvent({
          incident_id: id,
          at: o.at,
          kind: 'opened',
          actor: null,
          message: c.title,
          details: JSON.stringify({ pods: c.pods.slice(0, this.options.evidenceMaxPods) }),
        });
        const row = await repo.findById(id);
        if (row !== undefined) await this.notify(repo, trx, row, cluster, 'incident.opened', o.at);
        opened.push({ id, condition: c });
      }
      if (detection.resolve.length > 0) {
        const rows = await repo.resolveReturning(
          detection.resolve.map((r) => r.fingerprint),
          o.at,
          true,
        );
        for (const row of rows) {
          await repo.addEvent({
            incident_id: row.id,
            at: o.at,
            kind: 'resolved',
            actor: null,
            message: 'The condition was absent for consecutive heartbeats',
            details: null,
          });
          await this.notify(repo, trx, row, cluster, 'incident.resolved', o.at);
          resolved.push(row);
        }
      }
      await repo.refreshClusterStatus(cluster.id, o.at);
    });
    for (const { id, condition } of opened) {
      picture.open.set(condition.fingerprint, {
        id,
        type: condition.type,
        fingerprint: condition.fingerprint,
        absent: 0,
      });
      this.deps.logger.info(
        { clusterId: o.clusterId, orgId: o.orgId, incidentId: id, type: condition.type, severity: condition.severity },
        'incident opened',
      );
      if (o.logsCapability && condition.pods.length > 0) this.captureLogs(id, o, condition);
    }
    for (const r of detection.resolve) picture.open.delete(r.fingerprint);
    for (const row of resolved) {
      this.deps.logger.info({ clusterId: o.clusterId, incidentId: row.id, type: row.type }, 'incident resolved');
    }
    if (opened.length > 0 || resolved.length > 0) this.deps.notifications?.wake();
  }

  /** The evidence bundle at open: what the heartbeat and the detector know. */
  private evidenceOf(c: DetectedCondition, o: HeartbeatObservation): Record<string, unknown> {
    const held = o.held();
    const fromObservation = new Map<string, Pod>();
    if (o.inventory.mode !== 'same')
      for (const p of o.inventory.pods) fromObservation.set(`${p.namespace}/${p.name}`, p);
    const pods: unknown[] = [];
    for (const key of c.pods.slice(0, this.options.evidenceMaxPods)) {
      const pod = fromObservation.get(key) ?? parseOne(held?.pods.get(key)?.json, checkPod);
      if (pod === undefined) continue;
      pods.push({
        namespace: pod.namespace,
        name: pod.name,
        phase: pod.phase,
        nodeName: pod.nodeName ?? null,
        owner: pod.owner ?? null,
        containers: [...pod.containers, ...(pod.initContainers ?? [])].map((ct) => ({
          name: ct.name,
          image: ct.image,
          ready: ct.ready,
          state: ct.state,
          reason: ct.reason ?? null,
          restarts: ct.restarts,
          lastTerminationReason: ct.lastTerminationReason ?? null,
        })),
      });
    }
    const names = ClusterPicture.relatedNames(c);
    const events: KubeEvent[] = o.events
      .filter((e) => names.has(e.involvedObject.name))
      .slice(0, this.options.evidenceMaxEvents);
    const evidence: Record<string, unknown> = {
      capturedAt: iso(o.at),
      pods,
      restartHistory: c.restartHistory.map((e) => ({ ...e, at: iso(e.at) })),
      events,
    };
    if (c.node !== undefined) {
      const node =
        o.inventory.mode !== 'same'
          ? o.inventory.nodes.find((n) => n.name === c.node)
          : parseOne(held?.nodes.get(c.node)?.json, checkNode);
      evidence.node = node ?? { name: c.node };
    }
    evidence.logs = o.logsCapability && c.pods.length > 0 ? { state: 'pending' } : { state: 'disabled' };
    return evidence;
  }

  /** Asks the agent for the last log lines of the first pod; adds them to the evidence when they arrive. */
  private captureLogs(incidentId: string, o: HeartbeatObservation, c: DetectedCondition): void {
    const fetcher = this.logFetcher;
    const key = c.pods[0];
    if (fetcher === null || key === undefined) return;
    const slash = key.indexOf('/');
    const task = (async () => {
      const lines = await fetcher({
        clusterId: o.clusterId,
        orgId: o.orgId,
        namespace: key.slice(0, slash),
        pod: key.slice(slash + 1),
        tailLines: this.options.evidenceLogLines,
      }).catch(() => null);
      const now = this.deps.clock.now();
      await this.deps.db.transaction().execute(async (trx) => {
        const repo = new IncidentsRepository(trx);
        const row = await repo.findById(incidentId);
        if (row === undefined) return;
        const evidence = parseJsonObject(row.evidence ?? null) ?? {};
        evidence.logs =
          lines === null
            ? { state: 'unavailable', pod: key }
            : { state: 'captured', pod: key, lines: lines.slice(-this.options.evidenceLogLines) };
        await repo.setEvidence(incidentId, evidence, now);
        await repo.addEvent({
          incident_id: incidentId,
          at: now,
          kind: 'evidence_added',
          actor: null,
          message:
            lines === null
              ? `Log lines of ${key} could not be fetched`
              : `${lines.length} log lines of ${key} captured`,
          details: null,
        });
      });
    })().catch((err: unknown) => this.deps.logger.warn({ err, incidentId }, 'could not add log lines to an incident'));
    this.background.add(task);
    void task.finally(() => this.background.delete(task));
  }

  private async notify(
    repo: IncidentsRepository,
    trx: Kysely<Database>,
    row: IncidentRow,
    cluster: ClusterInfo | undefined,
    kind: IncidentEvent['kind'],
    now: number,
  ): Promise<void> {
    const notifications = this.deps.notifications;
    if (notifications === null) return;
    const channels = await notifications.enqueue(toIncidentEvent(row, cluster, kind), trx);
    if (channels > 0) {
      await repo.addEvent({
        incident_id: row.id,
        at: now,
        kind: 'notified',
        actor: null,
        message: `${kind === 'incident.opened' ? 'Opening' : 'Resolution'} queued for ${channels} notification channel${channels === 1 ? '' : 's'}`,
        details: null,
      });
    }
  }

  /**
   * Notifies transitions that were written without notification (the status job's
   * cluster_offline and fleet_connectivity, the heartbeat ingest's resolution of cluster_offline),
   * once each: claimed by compare-and-set in the transaction that enqueues.
   */
  async notifyMissed(limit = 500): Promise<number> {
    const rows = await this.repo.unnotified(limit);
    let n = 0;
    for (const row of rows) {
      const now = this.deps.clock.now();
      await this.deps.db.transaction().execute(async (trx) => {
        const repo = new IncidentsRepository(trx);
        const cluster = row.cluster_id === null ? undefined : await repo.clusterOf(row.cluster_id);
        if (row.open_notified_at === null && (await repo.claimNotification(row.id, 'open', now))) {
          await repo.addEvent({
            incident_id: row.id,
            at: row.opened_at,
            kind: 'opened',
            actor: null,
            message: row.title,
            details: null,
          });
          await this.notify(repo, trx, row, cluster, 'incident.opened', now);
          n++;
        }
        if (
          row.state === 'resolved' &&
          row.resolve_notified_at === null &&
          (await repo.claimNotification(row.id, 'resolve', now))
        ) {
          await repo.addEvent({
            incident_id: row.id,
            at: row.resolved_at ?? now,
            kind: 'resolved',
            actor: null,
            message: row.type === 'cluster_offline' ? 'The cluster reports again' : 'The condition cleared',
            details: null,
          });
          await this.notify(repo, trx, row, cluster, 'incident.resolved', now);
          n++;
        }
      });
    }
    if (n > 0) this.deps.notifications?.wake();
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // Incidents from other modules: deployments (deployment_failed) and diff results (drift_detected)

  /** Opens an incident unless one with its fingerprint is open; returns the open incident's id. */
  async open(input: ExternalIncident): Promise<string | null> {
    const now = this.deps.clock.now();
    const fingerprint = incidentFingerprint(input.clusterId, input.type, input.scope);
    let openedId: string | null = null;
    await this.deps.db.transaction().execute(async (trx) => {
      const repo = new IncidentsRepository(trx);
      const cluster = await repo.clusterOf(input.clusterId);
      if (cluster === undefined) return;
      const id = await repo.openReturningId(
        {
          orgId: cluster.org_id,
          clusterId: cluster.id,
          type: input.type,
          severity: INCIDENT_SEVERITY[input.type] ?? 'medium',
          scope: input.scope,
          fingerprint,
          title: input.title,
          details: input.details,
          evidence: { capturedAt: iso(now), ...input.evidence },
        },
        now,
        true,
      );
      if (id === null) {
        openedId = (await repo.findOpenByFingerprint(fingerprint))?.id ?? null;
        return;
      }
      openedId = id;
      await repo.addEvent({
        incident_id: id,
        at: now,
        kind: 'opened',
        actor: null,
        message: input.title,
        details: null,
      });
      const row = await repo.findById(id);
      if (row !== undefined) await this.notify(repo, trx, row, cluster, 'incident.opened', now);
      await repo.refreshClusterStatus(cluster.id, now);
    });
    this.deps.notifications?.wake();
    return openedId;
  }

  /** Resolves the open incident of this cluster, type and scope, if any; true when one resolved. */
  async resolve(clusterId: string, type: ExternalIncident['type'], scope: string, reason: string): Promise<boolean> {
    const now = this.deps.clock.now();
    const fingerprint = incidentFingerprint(clusterId, type, scope);
    const resolved = await this.deps.db.transaction().execute(async (trx) => {
      const repo = new IncidentsRepository(trx);
      const rows = await repo.resolveReturning([fingerprint], now, true);
      const cluster = await repo.clusterOf(clusterId);
      for (const row of rows) {
        await repo.addEvent({
          incident_id: row.id,
          at: now,
          kind: 'resolved',
          actor: null,
          message: reason,
          details: null,
        });
        await this.notify(repo, trx, row, cluster, 'incident.resolved', now);
      }
      if (rows.length > 0) await repo.refreshClusterStatus(clusterId, now);
      return rows.length > 0;
    });
    if (resolved) this.deps.notifications?.wake();
    return resolved;
  }

  /** For the deployments module: an apply ended failed or partial, or a managed rollout stalled. */
  deploymentFailed(input: {
    clusterId: string;
    deploymentId: string;
    title: string;
    details?: Record<string, unknown>;
  }) {
    return this.open({
      clusterId: input.clusterId,
      type: 'deployment_failed',
      scope: input.deploymentId,
      title: input.title,
      details: { deploymentId: input.deploymentId, ...input.details },
    });
  }

  /** For the deployments module: the deployment is healthy again. */
  deploymentRecovered(clusterId: string, deploymentId: string): Promise<boolean> {
    return this.resolve(clusterId, 'deployment_failed', deploymentId, 'The deployment succeeded');
  }

  /**
   * A `diff` command's result: objects that drifted or are missing open (or keep open)
   * drift_detected, scoped by the deployment id of the diff or else the set of diffed objects; a
   * clean diff resolves it.
   */
  async diffResult(clusterId: string, payload: unknown, status: string, result: unknown): Promise<void> {
    const objects = isRecord(result) && Array.isArray(result.objects) ? result.objects.filter(isObjectResult) : [];
    const deploymentId = isRecord(payload) && typeof payload.deploymentId === 'string' ? payload.deploymentId : null;
    const keys = objects.map((r) => `${r.kind}/${r.namespace ?? ''}/${r.name}`).sort();
    const scope = deploymentId ?? `objects:${sha256Hex(keys.join('\n')).slice(0, 16)}`;
    const drifted = objects.filter((r) => r.action === 'drifted' || r.action === 'missing');
    if (drifted.length > 0) {
      await this.open({
        clusterId,
        type: 'drift_detected',
        scope,
        title:
          deploymentId === null
            ? `${drifted.length} object${drifted.length === 1 ? '' : 's'} differ from their manifests`
            : `Deployment ${deploymentId} drifted (${drifted.length} object${drifted.length === 1 ? '' : 's'})`,
        details: { deploymentId, objects: keys.length },
        evidence: {
          drifted: drifted.slice(0, 50).map((r) => ({
            kind: r.kind,
            namespace: r.namespace ?? null,
            name: r.name,
            action: r.action,
            fields: r.fields ?? [],
          })),
        },
      });
    } else if (status === 'succeeded') {
      await this.resolve(clusterId, 'drift_detected', scope, 'A diff found no drift');
    }
  }

  /**
   * An `apply` command's result for a deployment (its payload names a `deploymentId`): `failed`
   * or `partial` opens deployment_failed with the objects that failed as evidence; a successful
   * apply resolves it. Applies outside a deployment open nothing: their caller sees the result.
   */
  async applyResult(clusterId: string, payload: unknown, status: string, result: unknown): Promise<void> {
    const deploymentId = isRecord(payload) && typeof payload.deploymentId === 'string' ? payload.deploymentId : null;
    if (deploymentId === null) return;
    if (status === 'succeeded') {
      await this.deploymentRecovered(clusterId, deploymentId);
      return;
    }
    if (status !== 'failed' && status !== 'partial') return;
    const objects = isRecord(result) && Array.isArray(result.objects) ? result.objects.filter(isObjectResult) : [];
    const failed = objects.filter((r) => r.action === 'failed');
    await this.open({
      clusterId,
      type: 'deployment_failed',
      scope: deploymentId,
      title:
        status === 'failed'
          ? `Apply of deployment ${deploymentId} failed`
          : `Apply of deployment ${deploymentId} failed for ${failed.length} of ${objects.length} objects`,
      details: { deploymentId, status, objects: objects.length, failed: failed.length },
      evidence: {
        failed: failed.slice(0, 50).map((r) => ({
          kind: r.kind,
          namespace: r.namespace ?? null,
          name: r.name,
          message: r.message ?? null,
        })),
      },
    });
  }

  // -------------------------------------------------------------------------------------------
  // API

  async list(scope: AccessScope, query: IncidentsQuery): Promise<IncidentPage> {
    const limit = query.limit ?? INCIDENTS_LIMIT_DEFAULT;
    const min = query.severity === undefined ? undefined : SEVERITY_RANK[query.severity];
    const rows = await this.repo.list(scope.orgIds, {
      clusterId: query.cluster,
      type: query.type,
      severities: min === undefined ? undefined : SEVERITIES.filter((s) => SEVERITY_RANK[s] >= min),
      state: query.state,
      after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => toIncident(r, r.cluster_name)),
      nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.opened_at, last.id) : null,
    };
  }

  async get(scope: AccessScope, id: string): Promise<IncidentDetail> {
    // The timeline first, then the row: a change writes both in one transaction, so the row read
    // afterwards is at least as new as the events (evidence_added never shows beside older evidence).
    const events = await this.repo.events(id);
    const row = await this.visible(scope, id, 'viewer');
    const cluster = row.cluster_id === null ? undefined : await this.repo.clusterOf(row.cluster_id);
    return {
      ...toIncident(row, cluster?.name ?? null),
      details: parseJson(row.details),
      evidence: parseJsonObject(row.evidence ?? null),
      timeline: [...events].sort(byTimelineOrder).map((e) => {
        const entry: IncidentDetail['timeline'][number] = {
          at: iso(e.at),
          kind: e.kind,
          actor: e.actor,
          message: e.message,
        };
        if (e.details !== null) entry.details = parseJson(e.details);
        return entry;
      }),
    };
  }

  async acknowledge(scope: AccessScope, caller: Caller, id: string, note?: string): Promise<IncidentDetail> {
    const row = await this.visible(scope, id, 'member');
    if (row.state === 'resolved') {
      throw new ConflictError('incident_resolved', 'The incident is already resolved; there is nothing to acknowledge');
    }
    const now = this.deps.clock.now();
    const who = caller.principal.email;
    const changed = await this.deps.db.transaction().execute(async (trx) => {
      const repo = new IncidentsRepository(trx);
      if (!(await repo.acknowledge(id, who, now))) return false;
      await repo.addEvent({
        incident_id: id,
        at: now,
        kind: 'acknowledged',
        actor: who,
        message: note === undefined ? `Acknowledged by ${who}` : `Acknowledged by ${who}: ${note}`,
        details: null,
      });
      return true;
    });
    if (changed) {
      await this.deps.audit.record({
        actor: auditActor(caller.principal),
        action: 'incident.ack',
        target: { type: 'incident', id },
        orgId: row.org_id,
        ip: caller.ip,
        details: { type: row.type, clusterId: row.cluster_id },
      });
    }
    return this.get(scope, id);
  }

  async delete(scope: AccessScope, caller: Caller, id: string): Promise<void> {
    const row = await this.visible(scope, id, 'member');
    if (row.state !== 'resolved') {
      throw new ConflictError(
        'incident_open',
        'Only resolved incidents can be deleted; this one is still open (it resolves by itself once the condition clears)',
      );
    }
    const deleted = await this.deps.db.transaction().execute((trx) => new IncidentsRepository(trx).deleteResolved(id));
    if (!deleted) throw new NotFoundError('Incident');
    await this.deps.audit.record({
      actor: auditActor(caller.principal),
      action: 'incident.delete',
      target: { type: 'incident', id },
      orgId: row.org_id,
      ip: caller.ip,
      details: { type: row.type, clusterId: row.cluster_id, title: row.title },
    });
  }

  /** Fleet-wide incidents (no org) are visible to everyone signed in, and changed by nobody. */
  private async visible(scope: AccessScope, id: string, min: 'viewer' | 'member'): Promise<IncidentRow> {
    const row = await this.repo.findById(id);
    if (row === undefined) throw new NotFoundError('Incident');
    if (row.org_id === null) {
      if (min !== 'viewer')
        throw new ConflictError('incident_fleet_wide', 'Fleet-wide incidents resolve by themselves');
      return row;
    }
    scope.require(row.org_id, min, 'Incident');
    return row;
  }

  async getSettings(scope: AccessScope, orgId: string): Promise<IncidentSettings> {
    scope.require(orgId, 'viewer', 'Organization');
    return settingsFromJson(await this.repo.settingsOf(orgId));
  }

  async putSettings(
    scope: AccessScope,
    caller: Caller,
    orgId: string,
    body: UpdateIncidentSettingsRequest,
  ): Promise<IncidentSettings> {
    scope.require(orgId, 'admin', 'Organization');
    const settings: IncidentSettings = { ...DEFAULT_INCIDENT_SETTINGS, ...body };
    const now = this.deps.clock.now();
    await this.repo.putSettings(orgId, JSON.stringify(body), now, caller.principal.userId);
    this.settingsCache.set(orgId, { settings, at: now });
    await this.deps.audit.record({
      actor: auditActor(caller.principal),
      action: 'org.incident_settings',
      target: { type: 'org', id: orgId },
      orgId,
      ip: caller.ip,
      details: { settings },
    });
    return settings;
  }

  private async settingsFor(orgId: string): Promise<IncidentSettings> {
    const now = this.deps.clock.now();
    const cached = this.settingsCache.get(orgId);
    if (cached !== undefined && now - cached.at < this.options.settingsCacheMs) return cached.settings;
    const settings = settingsFromJson(await this.repo.settingsOf(orgId));
    this.settingsCache.set(orgId, { settings, at: now });
    return settings;
  }
}

/** Entries of one millisecond in the order they happen (ids within a millisecond are random). */
const TIMELINE_ORDER: Record<string, number> = {
  opened: 0,
  resolved: 1,
  acknowledged: 2,
  evidence_added: 3,
  notified: 4,
};
const byTimelineOrder = (a: { at: number; kind: string }, b: { at: number; kind: string }): number =>
  a.at - b.at || (TIMELINE_ORDER[a.kind] ?? 5) - (TIMELINE_ORDER[b.kind] ?? 5);

function isObjectResult(v: unknown): v is ObjectResult {
  return (
    isRecord(v) &&
    typeof v.kind === 'string' &&
    typeof v.name === 'string' &&
    typeof v.action === 'string' &&
    (v.namespace === undefined || typeof v.namespace === 'string') &&
    (v.message === undefined || typeof v.message === 'string') &&
    (v.fields === undefined || (Array.isArray(v.fields) && v.fields.every((f) => typeof f === 'string')))
  );
}

/** `registry/niro-agent:0.1.0` → `0.1.0`; null for a digest-only, `latest` or untagged image. */
export function agentVersionOfImage(image: string): string | null {
  const withoutDigest = image.split('@')[0] ?? '';
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  if (colon <= slash) return null;
  const tag = withoutDigest.slice(colon + 1);
  return /^v?\d+(\.\d+)*/.test(tag) ? tag : null;
}

function toIncidentEvent(
  row: IncidentRow,
  cluster: ClusterInfo | undefined,
  kind: IncidentEvent['kind'],
): IncidentEvent {
  return {
    kind,
    incident: {
      id: row.id,
      orgId: row.org_id,
      clusterId: row.cluster_id,
      clusterName: cluster?.name ?? null,
      environment: cluster?.environment ?? null,
      clusterLabels: cluster === undefined ? {} : parseLabels(cluster.labels),
      type: row.type,
      severity: row.severity,
      title: row.title,
      fingerprint: row.fingerprint,
      openedAt: iso(row.opened_at),
      resolvedAt: isoOrNull(row.resolved_at),
    },
  };
}

function toIncident(row: IncidentRow, clusterName: string | null): Incident {
  return {
    id: row.id,
    orgId: row.org_id,
    clusterId: row.cluster_id,
    clusterName,
    type: row.type,
    severity: row.severity,
    state: row.state,
    scope: row.scope,
    fingerprint: row.fingerprint,
    title: row.title,
    openedAt: iso(row.opened_at),
    updatedAt: iso(row.updated_at),
    acknowledgedAt: isoOrNull(row.acknowledged_at),
    acknowledgedBy: row.acknowledged_by,
    resolvedAt: isoOrNull(row.resolved_at),
  };
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function parseJsonObject(text: string | null): Record<string, unknown> | null {
  const v = parseJson(text);
  return isRecord(v) ? v : null;
}

function parseOne<T>(json: string | undefined, check: { Check(v: unknown): v is T }): T | undefined {
  if (json === undefined) return undefined;
  const v = parseJson(json);
  return check.Check(v) ? v : undefined;
}

function parseEach<T>(entries: Iterable<{ json: string }>, check: { Check(v: unknown): v is T }): T[] {
  const out: T[] = [];
  for (const e of entries) {
    const v = parseOne(e.json, check);
    if (v !== undefined) out.push(v);
  }
  return out;
}
