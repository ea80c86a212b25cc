import { isRecord } from '../../lib/validation.js';

/** What the incidents module hands to NotificationsService.enqueue (see the notifications contract). */
export type IncidentEventKind = 'incident.opened' | 'incident.resolved';
export type IncidentSeverity = 'info' | 'low' | 'medium' | 'high';
export type IncidentEnvironment = 'dev' | 'staging' | 'production' | 'unspecified';

export type IncidentEvent = {
  kind: IncidentEventKind;
  incident: {
    id: string;
    /** Null for fleet-wide incidents (fleet_connectivity): every org's channels hear about them. */
    orgId: string | null;
    clusterId: string | null;
    clusterName: string | null;
    environment: IncidentEnvironment | null;
    clusterLabels: Record<string, string>;
    type: string;
    severity: IncidentSeverity;
    title: string;
    fingerprint: string;
    openedAt: string;
    resolvedAt: string | null;
    summary?: string;
  };
};

/** One event as a sender sees it: the same `eventId` on every attempt (the Standard Webhooks `webhook-id`). */
export type Delivery = {
  eventId: string;
  event: IncidentEvent;
  /** When the event was enqueued (epoch ms): the `timestamp` of the webhook body, stable across retries. */
  enqueuedAt: number;
  /** A channel test from the API, not a real incident. */
  test?: boolean;
};

const SEVERITY_RANK: Record<IncidentSeverity, number> = { info: 0, low: 1, medium: 2, high: 3 };

export const severityAtLeast = (severity: IncidentSeverity, min: IncidentSeverity): boolean =>
  SEVERITY_RANK[severity] >= SEVERITY_RANK[min];

/** Stable per incident and transition, so a retry and a repeated enqueue reuse it. */
export const eventIdFor = (event: IncidentEvent): string =>
  `evt_${event.incident.id}_${event.kind === 'incident.opened' ? 'opened' : 'resolved'}`;

const SEVERITIES: readonly string[] = ['info', 'low', 'medium', 'high'];
const ENVIRONMENTS: readonly string[] = ['dev', 'staging', 'production', 'unspecified'];

const str = (v: unknown): v is string => typeof v === 'string';
const strOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';

/** Reads an event back from the outbox's JSON, checking its shape rather than trusting it. */
export function parseIncidentEvent(value: unknown): IncidentEvent | null {
  if (!isRecord(value) || !isRecord(value.incident)) return null;
  const kind = value.kind;
  if (kind !== 'incident.opened' && kind !== 'incident.resolved') return null;
  const i = value.incident;
  const severity = i.severity;
  const environment = i.environment;
  if (
    !str(i.id) ||
    !strOrNull(i.orgId) ||
    !strOrNull(i.clusterId) ||
    !strOrNull(i.clusterName) ||
    !(environment === null || (str(environment) && ENVIRONMENTS.includes(environment))) ||
    !isRecord(i.clusterLabels) ||
    !str(i.type) ||
    !(str(severity) && SEVERITIES.includes(severity)) ||
    !str(i.title) ||
    !str(i.fingerprint) ||
    !str(i.openedAt) ||
    !strOrNull(i.resolvedAt) ||
    !(i.summary === undefined || str(i.summary))
  ) {
    return null;
  }
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(i.clusterLabels)) if (str(v)) labels[k] = v;
  return {
    kind,
    incident: {
      id: i.id,
      orgId: i.orgId,
      clusterId: i.clusterId,
      clusterName: i.clusterName,
      environment: environment === null ? null : toEnvironment(environment),
      clusterLabels: labels,
      type: i.type,
      severity: toSeverity(severity),
      title: i.title,
      fingerprint: i.fingerprint,
      openedAt: i.openedAt,
      resolvedAt: i.resolvedAt,
      ...(i.summary === undefined ? {} : { summary: i.summary }),
    },
  };
}

function toSeverity(v: string): IncidentSeverity {
  return v === 'low' || v === 'medium' || v === 'high' ? v : 'info';
}

function toEnvironment(v: string): IncidentEnvironment {
  return v === 'dev' || v === 'staging' || v === 'production' ? v : 'unspecified';
}
