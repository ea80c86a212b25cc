import type { FleetItem, FleetResponse } from '@niro/protocol';

/**
 * The fleet as the page holds it: the parsed document and the ETag it came with. On the server
 * also the body as the query serialized it (embedded in the page as is, not serialized again) and
 * `rest`, which settles once the first rows have been sent: the rows below the fold follow it.
 */
export type FleetSnapshot = { fleet: FleetResponse; etag: string; body?: string; rest?: Promise<void> };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isString = (v: unknown): v is string => typeof v === 'string';
const isStringOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

const STATUSES: readonly FleetItem['status'][] = ['pending', 'healthy', 'warning', 'critical', 'unknown', 'offline'];
const ENVIRONMENTS: readonly FleetItem['environment'][] = ['dev', 'staging', 'production', 'unspecified'];
const isStatus = (v: unknown): v is FleetItem['status'] => STATUSES.some((s) => s === v);
const isEnvironment = (v: unknown): v is FleetItem['environment'] => ENVIRONMENTS.some((e) => e === v);

/**
 * Checks the shape of a GET /api/v1/fleet body by hand (a schema library would weigh more than
 * the page): the fields the dashboard reads, each with its type. Throws on anything else.
 */
export function parseFleet(json: unknown): FleetResponse {
  if (!isRecord(json) || !isString(json.generatedAt) || !Array.isArray(json.clusters) || !isRecord(json.totals)) {
    throw new Error('The fleet reply does not have the expected shape');
  }
  const t = json.totals;
  if (!isInt(t.clusters) || !isInt(t.nodes) || !isInt(t.pods) || !isRecord(t.byStatus)) {
    throw new Error('The fleet totals do not have the expected shape');
  }
  const byStatus: Record<string, number> = {};
  for (const [k, v] of Object.entries(t.byStatus)) if (isInt(v)) byStatus[k] = v;
  return {
    generatedAt: json.generatedAt,
    totals: { clusters: t.clusters, nodes: t.nodes, pods: t.pods, byStatus },
    clusters: json.clusters.map(parseItem),
  };
}

function parseItem(v: unknown): FleetItem {
  if (!isRecord(v)) throw new Error('A fleet item is not an object');
  const { id, orgId, name, environment, labels, status, lastHeartbeatAt, kubernetesVersion, agentVersion } = v;
  const { summary, openIncidents, capabilities } = v;
  if (!isString(id) || !isString(orgId) || !isString(name)) throw new Error('A fleet item lacks its id or name');
  if (!isEnvironment(environment)) throw new Error(`Cluster ${name}: bad environment`);
  if (!isStatus(status)) throw new Error(`Cluster ${name}: bad status`);
  if (!isStringOrNull(lastHeartbeatAt) || !isStringOrNull(kubernetesVersion) || !isStringOrNull(agentVersion)) {
    throw new Error(`Cluster ${name}: bad versions or heartbeat time`);
  }
  if (!isRecord(summary) || !isRecord(openIncidents) || !isRecord(labels)) {
    throw new Error(`Cluster ${name}: bad summary, labels or incidents`);
  }
  const cleanLabels: Record<string, string> = {};
  for (const [k, l] of Object.entries(labels)) if (isString(l)) cleanLabels[k] = l;
  const count = (r: Record<string, unknown>, k: string): number => {
    const n = r[k];
    return typeof n === 'number' && Number.isFinite(n) ? n : 0;
  };
  const countOrNull = (r: Record<string, unknown>, k: string): number | null => {
    const n = r[k];
    return typeof n === 'number' && Number.isFinite(n) ? n : null;
  };
  return {
    id,
    orgId,
    name,
    environment,
    status,
    labels: cleanLabels,
    lastHeartbeatAt,
    kubernetesVersion,
    agentVersion,
    capabilities: parseCapabilities(capabilities),
    summary: {
      nodesTotal: count(summary, 'nodesTotal'),
      nodesReady: count(summary, 'nodesReady'),
      podsTotal: count(summary, 'podsTotal'),
      podsRunning: count(summary, 'podsRunning'),
      podsPending: count(summary, 'podsPending'),
      podsFailed: count(summary, 'podsFailed'),
      cpuCapacityMilli: count(summary, 'cpuCapacityMilli'),
      memoryCapacityBytes: count(summary, 'memoryCapacityBytes'),
      cpuRequestsMilli: count(summary, 'cpuRequestsMilli'),
      memoryRequestsBytes: count(summary, 'memoryRequestsBytes'),
      cpuUsageMilli: countOrNull(summary, 'cpuUsageMilli'),
      memoryUsageBytes: countOrNull(summary, 'memoryUsageBytes'),
    },
    openIncidents: {
      high: count(openIncidents, 'high'),
      medium: count(openIncidents, 'medium'),
      low: count(openIncidents, 'low'),
    },
  };
}

function parseCapabilities(v: unknown): FleetItem['capabilities'] {
  if (!isRecord(v)) return null;
  const flag = (k: string): boolean => v[k] === true;
  return { pods: flag('pods'), logs: flag('logs'), apply: flag('apply'), selfUpdate: flag('selfUpdate') };
}
