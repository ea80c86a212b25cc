import type { CommandKind, CommandState } from '@niro/protocol';
import type { Generated } from 'kysely';

/**
 * Table types. Times are epoch milliseconds (integer on SQLite, bigint on PostgreSQL, read back
 * as numbers); ids are text (time-ordered, see lib/ids.ts); JSON is stored as text so both
 * dialects behave the same.
 */
export type Database = {
  orgs: OrgsTable;
  users: UsersTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  rate_limits: RateLimitsTable;
  audit_log: AuditLogTable;
  clusters: ClustersTable;
  cluster_snapshots: ClusterSnapshotsTable;
  cluster_pods: ClusterPodsTable;
  cluster_images: ClusterImagesTable;
  enrollment_tokens: EnrollmentTokensTable;
  incidents: IncidentsTable;
  commands: CommandsTable;
  findings: FindingsTable;
  suppressions: SuppressionsTable;
  notification_channels: NotificationChannelsTable;
  notification_outbox: NotificationOutboxTable;
  incident_events: IncidentEventsTable;
  org_incident_settings: OrgIncidentSettingsTable;
  usage_cluster_samples: UsageClusterSamplesTable;
  usage_cluster_hours: UsageClusterHoursTable;
  usage_pod_series: UsagePodSeriesTable;
  usage_pod_samples: UsagePodSamplesTable;
  usage_pod_hours: UsagePodHoursTable;
  invitations: InvitationsTable;
  deployments: DeploymentsTable;
  deployment_revisions: DeploymentRevisionsTable;
  registries: RegistriesTable;
};

export type OrgsTable = {
  id: string;
  parent_id: string | null;
  /** Materialized path of ids, `/root/child/`: a subtree is a prefix match. */
  path: string;
  name: string;
  created_at: number;
};

export type UsersTable = {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  created_at: number;
  password_changed_at: number;
  disabled_at: number | null;
};

export type MembershipsTable = {
  org_id: string;
  user_id: string;
  role: 'owner' | 'admin' | 'member' | 'viewer';
  created_at: number;
};

export type SessionsTable = {
  /** SHA-256 of the cookie value. */
  id: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  last_seen_at: number;
  ip: string | null;
  user_agent: string | null;
};

export type ApiTokensTable = {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
  expires_at: number | null;
  revoked_at: number | null;
};

export type RateLimitsTable = {
  key: string;
  window_start: number;
  count: number;
};

export type AuditLogTable = {
  id: string;
  at: number;
  actor_type: 'user' | 'token' | 'agent' | 'system' | 'anonymous';
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  org_id: string | null;
  ip: string | null;
  outcome: 'success' | 'failure';
  details: string | null;
};

export type ClustersTable = {
  id: string;
  org_id: string;
  name: string;
  environment: 'dev' | 'staging' | 'production' | 'unspecified';
  labels: string;
  status: 'pending' | 'healthy' | 'warning' | 'critical' | 'unknown' | 'offline';
  status_changed_at: number;
  created_at: number;
  updated_at: number;
  agent_key_hash: string | null;
  enrolled_at: number | null;
  cluster_uid: string | null;
  last_heartbeat_at: number | null;
  last_seq: number | null;
  agent_version: string | null;
  kubernetes_version: string | null;
  distribution: string | null;
  capabilities: string | null;
  nodes_total: number;
  nodes_ready: number;
  pods_total: number;
  pods_running: number;
  pods_pending: number;
  pods_failed: number;
  cpu_capacity_milli: number;
  memory_capacity_bytes: number;
  cpu_requests_milli: number;
  memory_requests_bytes: number;
  cpu_usage_milli: number | null;
  memory_usage_bytes: number | null;
};

export type ClusterSnapshotsTable = {
  cluster_id: string;
  hash: string;
  /** JSON: { nodes, pods, workloads, events, usage } as last reported. */
  doc: string;
  updated_at: number;
};

export type ClusterPodsTable = {
  cluster_id: string;
  namespace: string;
  name: string;
  phase: string;
  status: 'running' | 'pending' | 'succeeded' | 'failed' | 'crashloop' | 'unknown';
  node_name: string | null;
  restarts: number;
  ready_containers: number;
  total_containers: number;
  /** JSON array of image references. */
  images: string;
  owner_kind: string | null;
  owner_name: string | null;
  started_at: string | null;
};

export type ClusterImagesTable = {
  cluster_id: string;
  image: string;
  pods: number;
};

export type EnrollmentTokensTable = {
  id: string;
  cluster_id: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  created_by: string | null;
};

export type IncidentsTable = {
  id: string;
  org_id: string | null;
  cluster_id: string | null;
  type: string;
  severity: 'low' | 'medium' | 'high';
  scope: string;
  fingerprint: string;
  state: 'firing' | 'acknowledged' | 'resolved';
  title: string;
  details: string | null;
  opened_at: number;
  updated_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  resolved_at: number | null;
  /** Equals fingerprint while open, null once resolved: a unique index keeps one open incident per fingerprint. */
  open_fingerprint: string | null;
  /** JSON evidence bundle captured at open (migration 0006). */
  evidence?: string | null;
  /** When the opening and the resolution were enqueued for notification (null: not yet). */
  open_notified_at?: number | null;
  resolve_notified_at?: number | null;
};

/** One entry of an incident's timeline (opened, acknowledged, evidence, notified, resolved). */
export type IncidentEventsTable = {
  id: string;
  incident_id: string;
  at: number;
  kind: string;
  /** Who did it (an email), null for the system. */
  actor: string | null;
  message: string;
  /** JSON. */
  details: string | null;
};

/** Incident detection thresholds of one org (JSON of the settings that differ from the defaults). */
export type OrgIncidentSettingsTable = {
  org_id: string;
  settings: string;
  updated_at: number;
  updated_by: string | null;
};

/** The durable command queue (DESIGN 3.3); the row is the truth, wake-ups only hints. */
export type CommandsTable = {
  /** Creation order, strictly increasing: per-cluster delivery order and the keyset of listings. */
  seq: Generated<number>;
  id: string;
  cluster_id: string;
  kind: CommandKind;
  /** JSON object. */
  payload: string;
  state: CommandState;
  /** Unique per cluster when set. */
  idempotency_key: string | null;
  /** SHA-256 of the canonical JSON of kind and payload: a repeated key must repeat the request. */
  request_hash: string;
  created_at: number;
  /** User id of the creator; null for the system. */
  created_by: string | null;
  expires_at: number;
  /** The latest delivery. */
  delivered_at: number | null;
  deliveries: number;
  /** When an unacknowledged delivery may be repeated; null when not delivered or acknowledged. */
  redeliver_at: number | null;
  acked_at: number | null;
  /** When the command reached a final state (for `expired`: its expiry time). */
  completed_at: number | null;
  /** JSON object from the agent's result. */
  result: string | null;
  /** JSON `{ code, message }`. */
  error: string | null;
  /** Extra manifests (pull Secrets) sealed with the secret box, added to `apply` payloads at delivery. */
  sealed_manifests: string | null;
};

/** Runtime policy findings of a cluster's workloads (DESIGN 6). */
export type FindingsTable = {
  id: string;
  cluster_id: string;
  rule_id: string;
  object_kind: string;
  object_namespace: string;
  object_name: string;
  /** "Kind/namespace/name", the workload key of the inventory. */
  object_key: string;
  container: string | null;
  path: string | null;
  severity: 'info' | 'low' | 'medium' | 'high';
  /** 0 (info) to 3 (high): "at or above" filters and most-severe-first listings. */
  severity_rank: number;
  category: string;
  message: string;
  /** SHA-256 of cluster, rule, object, container and path. */
  fingerprint: string;
  /** Equals fingerprint while open, null once closed: a unique index keeps one open finding per fingerprint. */
  open_fingerprint: string | null;
  /** The Niro deployment that manages the workload, from its label. */
  deployment_id: string | null;
  first_seen_at: number;
  last_seen_at: number;
  closed_at: number | null;
};

/** Suppressed runtime findings, per rule and object (DESIGN 6); applied when findings are listed. */
export type SuppressionsTable = {
  id: string;
  org_id: string;
  /** Null: every cluster of the org. */
  cluster_id: string | null;
  /** cluster_id, or '' for the whole org (part of the unique key, where NULLs would not collide). */
  cluster_key: string;
  rule_id: string;
  object_kind: string;
  /** '' for cluster-scoped objects. */
  object_namespace: string;
  object_name: string;
  reason: string;
  /** The user who created it. */
  created_by: string | null;
  created_at: number;
  expires_at: number | null;
};

/** Notification channels (DESIGN 4.3). */
export type NotificationChannelsTable = {
  id: string;
  org_id: string;
  name: string;
  type: 'webhook' | 'slack' | 'discord' | 'pagerduty' | 'email';
  min_severity: 'info' | 'low' | 'medium' | 'high';
  /** JSON `{ environments?: string[], labels?: Record<string, string> }`. */
  filters: string;
  /** The type's config with its secrets (URL, routing key, signing secret), sealed by lib/secret-box.ts. */
  config_ciphertext: string;
  /** JSON: what the API may show of the config (e.g. the URL's origin). */
  config_redacted: string;
  created_at: number;
  updated_at: number;
  last_error: string | null;
  last_error_at: number | null;
  last_delivered_at: number | null;
};

/** The durable notification outbox: one row per event and channel, unique on (channel_id, event_id). */
export type NotificationOutboxTable = {
  id: string;
  channel_id: string;
  /** `evt_<incident id>_<opened|resolved>`: the Standard Webhooks `webhook-id`, the same on every attempt. */
  event_id: string;
  /** JSON of the event (notification-events.ts). */
  payload: string;
  state: 'pending' | 'delivered' | 'failed';
  /** Claims so far (each claim is one send attempt). */
  attempts: number;
  next_attempt_at: number;
  /** A dispatcher holds the row until then; another may claim it after. */
  lease_until: number | null;
  enqueued_at: number;
  delivered_at: number | null;
  last_error: string | null;
};

/** An invitation to an org (migration 0008); the link's token is stored only as its SHA-256. */
export type InvitationsTable = {
  id: string;
  org_id: string;
  /** Lower case. */
  email: string;
  role: 'owner' | 'admin' | 'member' | 'viewer';
  token_hash: string;
  created_at: number;
  expires_at: number;
  created_by: string | null;
  accepted_at: number | null;
  accepted_by: string | null;
  revoked_at: number | null;
};

/** A container registry pull credential (migration 0010); `secret` is sealed by the secret box (AAD: the id). */
export type RegistriesTable = {
  id: string;
  org_id: string;
  name: string;
  /** Normalised host[:port]: "ghcr.io", "docker.io", "127.0.0.1:5000". */
  server: string;
  username: string;
  secret: string;
  created_at: number;
  created_by: string | null;
  last_verified_at: number | null;
};

/** Usage history (migration 0007, ADR 0010). Times here are epoch seconds. One row per heartbeat, kept an hour. */
export type UsageClusterSamplesTable = {
  cluster_id: string;
  at_s: number;
  /** Null when the agent reported no usage (no metrics-server). */
  cpu_milli: number | null;
  memory_bytes: number | null;
  pods_running: number | null;
};

/**
 * A cluster's twelve 5-minute buckets of one hour (`hour_s` is its start), packed by
 * modules/usage/usage.codec.ts; kept a day.
 */
export type UsageClusterHoursTable = {
  cluster_id: string;
  hour_s: number;
  data: Uint8Array;
};

/** One id per pod whose usage was recorded; pod rows reference it. */
export type UsagePodSeriesTable = {
  id: Generated<number>;
  cluster_id: string;
  namespace: string;
  pod: string;
  /** When a recorder last registered the pod (at least every 30 minutes while it reports). */
  seen_s: number;
};

/** Every pod's usage of one cluster in one minute (`at_s` on the minute), packed; kept an hour. */
export type UsagePodSamplesTable = {
  cluster_id: string;
  at_s: number;
  data: Uint8Array;
};

/** A pod's twelve 5-minute buckets (averages) of one hour, packed; kept a day. */
export type UsagePodHoursTable = {
  series_id: number;
  hour_s: number;
  data: Uint8Array;
};

/** A managed deployment (DESIGN 4.5). JSON columns are text. */
export type DeploymentsTable = {
  id: string;
  org_id: string;
  cluster_id: string;
  namespace: string;
  name: string;
  source_type: 'builder' | 'yaml' | 'git';
  /** JSON: {form} | {yaml} | {url, ref, path}. */
  source: string;
  /** A Git credential, sealed with the secret box (AAD: the deployment id). */
  git_credential: string | null;
  status: 'new' | 'pending' | 'succeeded' | 'partial' | 'failed';
  lifecycle: 'active' | 'deleting' | 'deleted' | 'unmanaged';
  revision: number;
  applied_revision: number | null;
  rollout_state: 'none' | 'progressing' | 'ready' | 'stalled';
  rollout_revision: number | null;
  rollout_started_at: number | null;
  rollout_deadline_at: number | null;
  rollout_ready_at: number | null;
  /** JSON: {"Kind/name": generation written by the apply}. */
  rollout_generations: string | null;
  drift_state: 'unknown' | 'checking' | 'clean' | 'drifted';
  drift_checked_at: number | null;
  /** JSON array of the drifted or missing objects of the last diff. */
  drift_objects: string | null;
  drift_command_id: string | null;
  delete_command_id: string | null;
  last_error: string | null;
  created_at: number;
  created_by: string | null;
  updated_at: number;
  archived_at: number | null;
};

export type DeploymentRevisionsTable = {
  deployment_id: string;
  revision: number;
  created_at: number;
  created_by: string | null;
  created_by_label: string | null;
  /** JSON RevisionSource. */
  source: string;
  manifests: string;
  /** JSON arrays: policy findings and unreadable documents at the time of the apply. */
  findings: string;
  manifest_errors: string;
  command_id: string | null;
  status: 'pending' | 'succeeded' | 'partial' | 'failed' | 'expired' | 'cancelled';
  /** JSON array of the agent's per-object results. */
  objects: string | null;
  /** JSON {code, message}. */
  error: string | null;
  completed_at: number | null;
  rollback_of: number | null;
  /** 1 when objects of earlier revisions missing from this one were deleted. */
  prune: number;
  message: string | null;
};
