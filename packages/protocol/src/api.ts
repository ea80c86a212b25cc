import { Type, type Static } from 'typebox';
import { Capabilities, CommandError, CommandKindSchema, KubeEvent, Node, Pod, Workload } from './agent.js';

/** HTTP API v1 DTOs (DESIGN section 5). Request bodies reject unknown fields. */

export const Environment = Type.Union([
  Type.Literal('dev'),
  Type.Literal('staging'),
  Type.Literal('production'),
  Type.Literal('unspecified'),
]);
export type Environment = Static<typeof Environment>;
export const ENVIRONMENTS: readonly Environment[] = ['dev', 'staging', 'production', 'unspecified'];

export const Role = Type.Union([
  Type.Literal('owner'),
  Type.Literal('admin'),
  Type.Literal('member'),
  Type.Literal('viewer'),
]);
export type Role = Static<typeof Role>;
export const ROLES: readonly Role[] = ['viewer', 'member', 'admin', 'owner'];

export const ClusterStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('healthy'),
  Type.Literal('warning'),
  Type.Literal('critical'),
  Type.Literal('unknown'),
  Type.Literal('offline'),
]);
export type ClusterStatus = Static<typeof ClusterStatus>;

/** Label keys and values follow Kubernetes' rules closely enough for selectors. */
export const Labels = Type.Record(
  Type.String({ pattern: '^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$' }),
  Type.String({ maxLength: 63, pattern: '^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$' }),
  { maxProperties: 64 },
);
export type Labels = Static<typeof Labels>;

export const ClusterName = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$',
  description: 'DNS label: lower-case letters, digits and dashes',
});

export const ClusterSummary = Type.Object({
  nodesTotal: Type.Integer(),
  nodesReady: Type.Integer(),
  podsTotal: Type.Integer(),
  podsRunning: Type.Integer(),
  podsPending: Type.Integer(),
  podsFailed: Type.Integer(),
  cpuCapacityMilli: Type.Number(),
  memoryCapacityBytes: Type.Number(),
  cpuRequestsMilli: Type.Number(),
  memoryRequestsBytes: Type.Number(),
  cpuUsageMilli: Type.Union([Type.Number(), Type.Null()]),
  memoryUsageBytes: Type.Union([Type.Number(), Type.Null()]),
});
export type ClusterSummary = Static<typeof ClusterSummary>;

export const Cluster = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  name: Type.String(),
  environment: Environment,
  labels: Type.Record(Type.String(), Type.String()),
  status: ClusterStatus,
  statusChangedAt: Type.String({ format: 'date-time' }),
  createdAt: Type.String({ format: 'date-time' }),
  enrolledAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastHeartbeatAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  agentVersion: Type.Union([Type.String(), Type.Null()]),
  kubernetesVersion: Type.Union([Type.String(), Type.Null()]),
  distribution: Type.Union([Type.String(), Type.Null()]),
  capabilities: Type.Union([Capabilities, Type.Null()]),
  summary: ClusterSummary,
});
export type Cluster = Static<typeof Cluster>;

export const CreateClusterRequest = Type.Object(
  {
    name: ClusterName,
    environment: Type.Optional(Environment),
    orgId: Type.Optional(Type.String()),
    labels: Type.Optional(Labels),
  },
  { additionalProperties: false },
);
export type CreateClusterRequest = Static<typeof CreateClusterRequest>;

export const UpdateClusterRequest = Type.Object(
  {
    name: Type.Optional(ClusterName),
    environment: Type.Optional(Environment),
    labels: Type.Optional(Labels),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateClusterRequest = Static<typeof UpdateClusterRequest>;

export const EnrollmentInfo = Type.Object({
  token: Type.String({ description: 'Single-use enrollment token; shown once' }),
  expiresAt: Type.String({ format: 'date-time' }),
  installCommand: Type.String(),
});
export type EnrollmentInfo = Static<typeof EnrollmentInfo>;

export const CreateClusterResponse = Type.Object({
  cluster: Cluster,
  enrollment: EnrollmentInfo,
});
export type CreateClusterResponse = Static<typeof CreateClusterResponse>;

export const FleetItem = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  name: Type.String(),
  environment: Environment,
  labels: Type.Record(Type.String(), Type.String()),
  status: ClusterStatus,
  lastHeartbeatAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  kubernetesVersion: Type.Union([Type.String(), Type.Null()]),
  agentVersion: Type.Union([Type.String(), Type.Null()]),
  capabilities: Type.Optional(
    Type.Union([Capabilities, Type.Null()], { description: 'What the agent can do; null before it enrolled' }),
  ),
  summary: ClusterSummary,
  openIncidents: Type.Object(
    { high: Type.Integer(), medium: Type.Integer(), low: Type.Integer() },
    { description: 'Open (firing or acknowledged) incidents of the cluster by severity' },
  ),
});
export type FleetItem = Static<typeof FleetItem>;

export const FleetResponse = Type.Object({
  generatedAt: Type.String({ format: 'date-time' }),
  totals: Type.Object({
    clusters: Type.Integer(),
    byStatus: Type.Record(Type.String(), Type.Integer()),
    nodes: Type.Integer(),
    pods: Type.Integer(),
  }),
  clusters: Type.Array(FleetItem),
});
export type FleetResponse = Static<typeof FleetResponse>;

export const PodStatus = Type.Union([
  Type.Literal('running'),
  Type.Literal('pending'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('crashloop'),
  Type.Literal('unknown'),
]);
export type PodStatus = Static<typeof PodStatus>;

export const PodRow = Type.Object({
  clusterId: Type.String(),
  clusterName: Type.String(),
  namespace: Type.String(),
  name: Type.String(),
  phase: Type.String(),
  status: PodStatus,
  nodeName: Type.Union([Type.String(), Type.Null()]),
  restarts: Type.Integer(),
  readyContainers: Type.Integer(),
  totalContainers: Type.Integer(),
  images: Type.Array(Type.String()),
  ownerKind: Type.Union([Type.String(), Type.Null()]),
  ownerName: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.Union([Type.String(), Type.Null()]),
});
export type PodRow = Static<typeof PodRow>;

export const ImageRow = Type.Object({
  image: Type.String(),
  clusters: Type.Array(Type.Object({ clusterId: Type.String(), clusterName: Type.String(), pods: Type.Integer() })),
});
export type ImageRow = Static<typeof ImageRow>;

export const Page = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const Org = Type.Object({
  id: Type.String(),
  parentId: Type.Union([Type.String(), Type.Null()]),
  name: Type.String(),
  role: Role,
  createdAt: Type.String({ format: 'date-time' }),
});
export type Org = Static<typeof Org>;

export const Me = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  orgs: Type.Array(Org),
});
export type Me = Static<typeof Me>;

export const LoginRequest = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type LoginRequest = Static<typeof LoginRequest>;

export const TokenRequest = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    name: Type.String({ minLength: 1, maxLength: 100 }),
  },
  { additionalProperties: false },
);
export type TokenRequest = Static<typeof TokenRequest>;

export const ApiToken = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type ApiToken = Static<typeof ApiToken>;

export const CreatedApiToken = Type.Object({
  token: Type.String({ description: 'niro_pat_…; shown once' }),
  apiToken: ApiToken,
});
export type CreatedApiToken = Static<typeof CreatedApiToken>;

// Clusters and fleet read API (issue 2).

export const ClusterIdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
export type ClusterIdParams = Static<typeof ClusterIdParams>;

export const ListClustersQuery = Type.Object({
  environment: Type.Optional(Environment),
  status: Type.Optional(ClusterStatus),
  q: Type.Optional(Type.String({ maxLength: 253, description: 'Part of the cluster name' })),
  label: Type.Optional(
    Type.Union([Type.String({ maxLength: 400 }), Type.Array(Type.String({ maxLength: 400 }), { maxItems: 20 })], {
      description: 'key=value; repeat for several labels (all must match)',
    }),
  ),
});
export type ListClustersQuery = Static<typeof ListClustersQuery>;

export const ClusterList = Type.Object({ items: Type.Array(Cluster) });
export type ClusterList = Static<typeof ClusterList>;

/** A node as last reported, with its usage when metrics-server is present. */
export const ClusterNode = Type.Object({
  ...Node.properties,
  usage: Type.Union([Type.Object({ cpuMilli: Type.Number(), memoryBytes: Type.Number() }), Type.Null()]),
});
export type ClusterNode = Static<typeof ClusterNode>;
export const ClusterNodeList = Type.Object({ items: Type.Array(ClusterNode) });
export type ClusterNodeList = Static<typeof ClusterNodeList>;

export const ClusterEventList = Type.Object({ items: Type.Array(KubeEvent) });
export type ClusterEventList = Static<typeof ClusterEventList>;

/** A workload as last reported; `template` is the pod template object as the agent sent it. */
export const ClusterWorkload = Type.Object({
  ...Workload.properties,
  template: Type.Record(Type.String(), Type.Unknown()),
});
export type ClusterWorkload = Static<typeof ClusterWorkload>;
export const ClusterWorkloadList = Type.Object({ items: Type.Array(ClusterWorkload) });
export type ClusterWorkloadList = Static<typeof ClusterWorkloadList>;

export const PAGE_LIMIT_DEFAULT = 100;
export const PAGE_LIMIT_MAX = 1000;

export const ClusterPodsQuery = Type.Object({
  namespace: Type.Optional(Type.String({ maxLength: 253 })),
  status: Type.Optional(PodStatus),
  q: Type.Optional(Type.String({ maxLength: 253, description: 'Part of the pod name' })),
  image: Type.Optional(
    Type.String({ maxLength: 1024, description: "An image reference one of the pod's containers runs, exactly" }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT })),
  cursor: Type.Optional(Type.String({ maxLength: 2048 })),
});
export type ClusterPodsQuery = Static<typeof ClusterPodsQuery>;

export const PodsQuery = Type.Object({
  cluster: Type.Optional(Type.String({ maxLength: 64, description: 'Cluster id' })),
  ...ClusterPodsQuery.properties,
});
export type PodsQuery = Static<typeof PodsQuery>;

export const PodPage = Page(PodRow);
export type PodPage = Static<typeof PodPage>;

export const IMAGES_LIMIT_DEFAULT = 200;
export const IMAGES_LIMIT_MAX = 1000;

export const ImagesQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: 1024, description: 'Part of the image reference' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: IMAGES_LIMIT_MAX, default: IMAGES_LIMIT_DEFAULT })),
});
export type ImagesQuery = Static<typeof ImagesQuery>;

export const ImageList = Type.Object({ items: Type.Array(ImageRow) });
export type ImageList = Static<typeof ImageList>;

// Accounts (issue 2): first-run setup, API tokens, orgs and members, audit log.

export const EmailAddress = Type.String({ minLength: 3, maxLength: 320, pattern: '^[^\\s@]+@[^\\s@]+$' });
/** Rules for a password being set; signing in accepts any length so old passwords keep working. */
export const NewPassword = Type.String({ minLength: 8, maxLength: 1024, description: 'At least 8 characters' });
export const PASSWORD_MIN_LENGTH = 8;

export const SetupStatus = Type.Object({ needsSetup: Type.Boolean() });
export type SetupStatus = Static<typeof SetupStatus>;

export const OrgName = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });

export const SetupRequest = Type.Object(
  {
    email: EmailAddress,
    password: NewPassword,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    orgName: Type.Optional(OrgName),
  },
  { additionalProperties: false },
);
export type SetupRequest = Static<typeof SetupRequest>;

export const TokenResponse = Type.Object({ token: Type.String({ description: 'niro_pat_…; shown once' }) });
export type TokenResponse = Static<typeof TokenResponse>;

export const CreateApiTokenRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  },
  { additionalProperties: false },
);
export type CreateApiTokenRequest = Static<typeof CreateApiTokenRequest>;

export const ApiTokenList = Type.Object({ items: Type.Array(ApiToken) });
export type ApiTokenList = Static<typeof ApiTokenList>;

export const TokenIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type TokenIdParams = Static<typeof TokenIdParams>;

export const OrgIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type OrgIdParams = Static<typeof OrgIdParams>;

export const OrgList = Type.Object({ items: Type.Array(Org) });
export type OrgList = Static<typeof OrgList>;

export const CreateOrgRequest = Type.Object(
  { name: OrgName, parentId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
  { additionalProperties: false },
);
export type CreateOrgRequest = Static<typeof CreateOrgRequest>;

export const UpdateOrgRequest = Type.Object({ name: OrgName }, { additionalProperties: false });
export type UpdateOrgRequest = Static<typeof UpdateOrgRequest>;

/** A direct membership of an org. */
export const OrgMember = Type.Object({
  userId: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: Role,
  createdAt: Type.String({ format: 'date-time' }),
});
export type OrgMember = Static<typeof OrgMember>;

export const OrgMemberList = Type.Object({ items: Type.Array(OrgMember) });
export type OrgMemberList = Static<typeof OrgMemberList>;

export const AddMemberRequest = Type.Object({ email: EmailAddress, role: Role }, { additionalProperties: false });
export type AddMemberRequest = Static<typeof AddMemberRequest>;

export const OrgMemberParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  userId: Type.String({ minLength: 1, maxLength: 64 }),
});
export type OrgMemberParams = Static<typeof OrgMemberParams>;

export const AuditEntry = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  actor: Type.Object({
    type: Type.Union([
      Type.Literal('user'),
      Type.Literal('token'),
      Type.Literal('agent'),
      Type.Literal('system'),
      Type.Literal('anonymous'),
    ]),
    id: Type.Union([Type.String(), Type.Null()]),
    label: Type.Union([Type.String(), Type.Null()]),
  }),
  action: Type.String({ description: 'e.g. auth.login, token.create, org.member.add' }),
  target: Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()]),
  orgId: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});
export type AuditEntry = Static<typeof AuditEntry>;

export const AUDIT_LIMIT_DEFAULT = 50;
export const AUDIT_LIMIT_MAX = 500;

export const AuditQuery = Type.Object({
  actor: Type.Optional(Type.String({ maxLength: 320, description: 'User id, email, or actor id' })),
  action: Type.Optional(Type.String({ maxLength: 100 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: AUDIT_LIMIT_MAX, default: AUDIT_LIMIT_DEFAULT })),
  before: Type.Optional(Type.String({ maxLength: 64, description: 'nextCursor of the previous page' })),
});
export type AuditQuery = Static<typeof AuditQuery>;

export const AuditPage = Page(AuditEntry);
export type AuditPage = Static<typeof AuditPage>;

// ---------------------------------------------------------------------------------------------
// Commands (DESIGN 3.3, issue 4)

export const CommandStateSchema = Type.Union([
  Type.Literal('queued'),
  Type.Literal('delivered'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('partial'),
  Type.Literal('expired'),
  Type.Literal('cancelled'),
]);

export const CreateCommandRequest = Type.Object(
  {
    kind: CommandKindSchema,
    payload: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    expiresInSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 86_400 })),
    /** Repeating a creation with the same key returns the first command instead of a second one. */
    idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type CreateCommandRequest = Static<typeof CreateCommandRequest>;

export const Command = Type.Object({
  id: Type.String(),
  clusterId: Type.String(),
  kind: CommandKindSchema,
  payload: Type.Record(Type.String(), Type.Unknown()),
  state: CommandStateSchema,
  createdAt: Type.String({ format: 'date-time' }),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.String({ format: 'date-time' }),
  deliveredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  completedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  deliveries: Type.Integer(),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  error: Type.Union([CommandError, Type.Null()]),
  /** From creation to result, in ms. */
  roundTripMs: Type.Union([Type.Number(), Type.Null()]),
});
export type Command = Static<typeof Command>;

export const CommandList = Type.Object({
  items: Type.Array(Command),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type CommandList = Static<typeof CommandList>;

export const CommandIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type CommandIdParams = Static<typeof CommandIdParams>;

export const COMMANDS_LIMIT_DEFAULT = 20;
export const COMMANDS_LIMIT_MAX = 100;

export const ListCommandsQuery = Type.Object({
  state: Type.Optional(CommandStateSchema),
  kind: Type.Optional(CommandKindSchema),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: COMMANDS_LIMIT_MAX, default: COMMANDS_LIMIT_DEFAULT })),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'nextCursor of the previous page' })),
});
export type ListCommandsQuery = Static<typeof ListCommandsQuery>;

// ---------------------------------------------------------------------------------------------
// Policy and findings (DESIGN 5 and 6, issue 5)

const severityUnion = (options?: { description: string }) =>
  Type.Union([Type.Literal('info'), Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')], options);
export const PolicySeverity = severityUnion();
export type PolicySeverity = Static<typeof PolicySeverity>;
export const POLICY_SEVERITIES: readonly PolicySeverity[] = ['info', 'low', 'medium', 'high'];

export const PolicyCategory = Type.Union([
  Type.Literal('reliability'),
  Type.Literal('security'),
  Type.Literal('efficiency'),
  Type.Literal('images'),
]);
export type PolicyCategory = Static<typeof PolicyCategory>;

/** One rule of the catalogue, with its severity in each environment. */
export const PolicyRuleInfo = Type.Object({
  id: Type.String(),
  title: Type.String(),
  category: PolicyCategory,
  description: Type.String(),
  fix: Type.String(),
  severity: Type.Object({
    nonProduction: PolicySeverity,
    staging: PolicySeverity,
    production: PolicySeverity,
  }),
  needs: Type.Array(Type.String(), {
    description: 'Kinds of related objects the rule reads (Service, PodDisruptionBudget, …); empty when none',
  }),
});
export type PolicyRuleInfo = Static<typeof PolicyRuleInfo>;

export const PolicyRuleList = Type.Object({ items: Type.Array(PolicyRuleInfo) });
export type PolicyRuleList = Static<typeof PolicyRuleList>;

/** Manifests larger than this (UTF-8 bytes of `yaml`) are refused with 413. */
export const POLICY_EVALUATE_MAX_BYTES = 2 * 1024 * 1024;

/** At most this many characters say why a finding is suppressed. */
export const SUPPRESSION_REASON_MAX_CHARS = 1000;
/** At most this many suppressions accompany one build-time evaluation. */
export const EVALUATE_SUPPRESSIONS_MAX = 1000;

const SuppressionReason = Type.String({
  minLength: 1,
  maxLength: SUPPRESSION_REASON_MAX_CHARS,
  description: 'Why the finding is accepted; recorded in the audit log',
});
const RuleId = Type.String({ minLength: 1, maxLength: 100, description: 'A rule id of GET /policy/rules' });
const ObjectKind = Type.String({ minLength: 1, maxLength: 100 });
const ObjectName = Type.String({ minLength: 1, maxLength: 253 });

/** A suppression sent with manifests: those findings are left out of the reply. */
export const EvaluateSuppression = Type.Object(
  {
    ruleId: RuleId,
    object: Type.Object(
      {
        kind: ObjectKind,
        namespace: Type.Optional(Type.String({ maxLength: 253, description: 'default when absent, as kubectl' })),
        name: ObjectName,
      },
      { additionalProperties: false },
    ),
    reason: SuppressionReason,
  },
  { additionalProperties: false },
);
export type EvaluateSuppression = Static<typeof EvaluateSuppression>;

export const EvaluatePolicyRequest = Type.Object(
  {
    yaml: Type.String({ description: 'One or more YAML or JSON documents (`---` separated), at most 2 MiB' }),
    environment: Type.Optional(Environment),
    suppressions: Type.Optional(Type.Array(EvaluateSuppression, { maxItems: EVALUATE_SUPPRESSIONS_MAX })),
  },
  { additionalProperties: false },
);
export type EvaluatePolicyRequest = Static<typeof EvaluatePolicyRequest>;

export const FindingObject = Type.Object({
  kind: Type.String(),
  namespace: Type.Optional(Type.String()),
  name: Type.String(),
});

/** A finding as DESIGN 5 defines it. */
export const PolicyFinding = Type.Object({
  ruleId: Type.String(),
  title: Type.String(),
  severity: PolicySeverity,
  category: PolicyCategory,
  message: Type.String(),
  object: FindingObject,
  container: Type.Optional(Type.String()),
  path: Type.Optional(Type.String()),
  fix: Type.Optional(Type.String()),
});
export type PolicyFinding = Static<typeof PolicyFinding>;

/** A manifest that could not be read; `document` is 1-based, `line` 1-based within the input. */
export const ManifestError = Type.Object({
  document: Type.Optional(Type.Integer()),
  line: Type.Optional(Type.Integer()),
  message: Type.String(),
});
export type ManifestError = Static<typeof ManifestError>;

export const EvaluatePolicyResponse = Type.Object({
  findings: Type.Array(PolicyFinding),
  errors: Type.Array(ManifestError),
});
export type EvaluatePolicyResponse = Static<typeof EvaluatePolicyResponse>;

const findingStateUnion = (options?: { description: string }) =>
  Type.Union([Type.Literal('open'), Type.Literal('closed')], options);
export const FindingState = findingStateUnion();
export type FindingState = Static<typeof FindingState>;

/** The suppression that covers an open finding (listed with `state=suppressed`). */
export const FindingSuppression = Type.Object({
  id: Type.String(),
  reason: Type.String(),
  createdBy: Type.Optional(Type.String({ description: 'User id of who suppressed it' })),
  createdByEmail: Type.Union([Type.String(), Type.Null()], {
    description: 'Email of who suppressed it; null when unknown or the user is deleted',
  }),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
});
export type FindingSuppression = Static<typeof FindingSuppression>;

/** A runtime finding on a cluster's workload, open while the workload still has it. */
export const StoredFinding = Type.Object({
  id: Type.String(),
  clusterId: Type.String(),
  clusterName: Type.String(),
  ...PolicyFinding.properties,
  object: Type.Object({ kind: Type.String(), namespace: Type.String(), name: Type.String() }),
  deploymentId: Type.Union([Type.String(), Type.Null()]),
  state: FindingState,
  firstSeenAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  closedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  suppression: Type.Optional(FindingSuppression),
});
export type StoredFinding = Static<typeof StoredFinding>;

export const FINDINGS_LIMIT_DEFAULT = 100;
export const FINDINGS_LIMIT_MAX = 1000;

export const FindingsQuery = Type.Object({
  cluster: Type.Optional(Type.String({ maxLength: 64, description: 'Cluster id' })),
  deployment: Type.Optional(Type.String({ maxLength: 128, description: 'Niro deployment id' })),
  severity: Type.Optional(severityUnion({ description: 'This severity or above' })),
  rule: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: '^[a-z0-9][a-z0-9-]*$',
      description: 'A rule id of GET /policy/rules: only its findings',
    }),
  ),
  state: Type.Optional(
    Type.Union([Type.Literal('open'), Type.Literal('closed'), Type.Literal('suppressed')], {
      description:
        'open (default: open and not suppressed), suppressed (open, covered by a live suppression) or closed',
    }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: FINDINGS_LIMIT_MAX, default: FINDINGS_LIMIT_DEFAULT })),
  cursor: Type.Optional(Type.String({ maxLength: 256, description: 'nextCursor of the previous page' })),
});
export type FindingsQuery = Static<typeof FindingsQuery>;

export const FindingPage = Page(StoredFinding);
export type FindingPage = Static<typeof FindingPage>;

// ---------------------------------------------------------------------------------------------
// Suppressions of runtime findings (DESIGN 6)

/** The object a suppression covers; namespace '' for cluster-scoped objects. */
export const SuppressionObject = Type.Object(
  {
    kind: ObjectKind,
    namespace: Type.String({ maxLength: 253, description: "'' for cluster-scoped objects" }),
    name: ObjectName,
  },
  { additionalProperties: false },
);
export type SuppressionObject = Static<typeof SuppressionObject>;

export const CreateSuppressionRequest = Type.Object(
  {
    ruleId: RuleId,
    object: SuppressionObject,
    clusterId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'One cluster; every cluster of the org when absent' }),
    ),
    orgId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'The org of a suppression without clusterId; needed only when you can write in several orgs',
      }),
    ),
    reason: SuppressionReason,
    expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'No longer applies from then on' })),
  },
  { additionalProperties: false },
);
export type CreateSuppressionRequest = Static<typeof CreateSuppressionRequest>;

export const Suppression = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  clusterId: Type.Union([Type.String(), Type.Null()], { description: 'null: every cluster of the org' }),
  ruleId: Type.String(),
  object: Type.Object({ kind: Type.String(), namespace: Type.String(), name: Type.String() }),
  reason: Type.String(),
  createdBy: Type.Union([Type.String(), Type.Null()], { description: 'User id of who created it' }),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  expired: Type.Boolean({ description: 'expiresAt has passed: the suppression no longer applies' }),
});
export type Suppression = Static<typeof Suppression>;

export const SuppressionList = Type.Object({ items: Type.Array(Suppression) });
export type SuppressionList = Static<typeof SuppressionList>;

export const SuppressionsQuery = Type.Object({
  cluster: Type.Optional(
    Type.String({
      maxLength: 64,
      description: 'Cluster id: the suppressions that apply to it (its own and its org’s cluster-less ones)',
    }),
  ),
});
export type SuppressionsQuery = Static<typeof SuppressionsQuery>;

export const SuppressionIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type SuppressionIdParams = Static<typeof SuppressionIdParams>;

// ---------------------------------------------------------------------------------------------
// Notification channels (DESIGN 4.3)

export const NotificationChannelType = Type.Union([
  Type.Literal('webhook'),
  Type.Literal('slack'),
  Type.Literal('discord'),
  Type.Literal('pagerduty'),
  Type.Literal('email'),
]);
export type NotificationChannelType = Static<typeof NotificationChannelType>;
export const NOTIFICATION_CHANNEL_TYPES: readonly NotificationChannelType[] = [
  'webhook',
  'slack',
  'discord',
  'pagerduty',
  'email',
];

export const NotificationSeverity = Type.Union(
  [Type.Literal('info'), Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')],
  { description: 'Incidents of this severity or above notify' },
);
export type NotificationSeverity = Static<typeof NotificationSeverity>;

export const NotificationFilters = Type.Object(
  {
    environments: Type.Optional(
      Type.Array(Environment, {
        maxItems: 4,
        uniqueItems: true,
        description: 'Only clusters of these environments (all when absent or empty)',
      }),
    ),
    labels: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 253 }), Type.String({ maxLength: 63 }), {
        maxProperties: 16,
        description: 'Only clusters carrying every one of these labels',
      }),
    ),
  },
  { additionalProperties: false },
);
export type NotificationFilters = Static<typeof NotificationFilters>;

/** The fields a type needs: webhook/slack/discord `url`, pagerduty `routingKey`, email `to`. Checked per type. */
export const NotificationChannelConfig = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2048,
        description: 'webhook, slack, discord: an https:// or http:// URL',
      }),
    ),
    routingKey: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'pagerduty: the integration (routing) key' }),
    ),
    to: Type.Optional(
      Type.Array(EmailAddress, { minItems: 1, maxItems: 20, uniqueItems: true, description: 'email: recipients' }),
    ),
  },
  { additionalProperties: false },
);
export type NotificationChannelConfig = Static<typeof NotificationChannelConfig>;

export const NotificationChannelName = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });

export const CreateNotificationChannelRequest = Type.Object(
  {
    name: NotificationChannelName,
    type: NotificationChannelType,
    orgId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'The organization; needed only when you are an admin of several',
      }),
    ),
    minSeverity: NotificationSeverity,
    filters: Type.Optional(NotificationFilters),
    config: NotificationChannelConfig,
  },
  { additionalProperties: false },
);
export type CreateNotificationChannelRequest = Static<typeof CreateNotificationChannelRequest>;

export const UpdateNotificationChannelRequest = Type.Object(
  {
    name: Type.Optional(NotificationChannelName),
    minSeverity: Type.Optional(NotificationSeverity),
    filters: Type.Optional(NotificationFilters),
    config: Type.Optional(NotificationChannelConfig),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateNotificationChannelRequest = Static<typeof UpdateNotificationChannelRequest>;

export const NotificationChannelStatus = Type.Object({
  healthy: Type.Boolean({ description: 'No error since the last delivery' }),
  lastDeliveredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastErrorAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  pending: Type.Integer({ description: 'Events waiting to be sent (or retried)' }),
  failed: Type.Integer({ description: 'Events given up on after 24 hours of retries' }),
  nextAttemptAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'The next retry of an event that failed before',
  }),
});
export type NotificationChannelStatus = Static<typeof NotificationChannelStatus>;

export const NotificationChannel = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  name: Type.String(),
  type: NotificationChannelType,
  minSeverity: NotificationSeverity,
  filters: Type.Object({
    environments: Type.Array(Environment),
    labels: Type.Record(Type.String(), Type.String()),
  }),
  config: Type.Record(Type.String(), Type.Union([Type.String(), Type.Array(Type.String())]), {
    description: 'Redacted: the URL’s origin, the routing key’s last characters, the recipients; never a secret',
  }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  status: NotificationChannelStatus,
});
export type NotificationChannel = Static<typeof NotificationChannel>;

export const CreatedNotificationChannel = Type.Object({
  ...NotificationChannel.properties,
  signingSecret: Type.Optional(
    Type.String({ description: 'webhook: whsec_… for verifying the webhook-signature header; shown once' }),
  ),
});
export type CreatedNotificationChannel = Static<typeof CreatedNotificationChannel>;

export const NotificationChannelList = Type.Object({ items: Type.Array(NotificationChannel) });
export type NotificationChannelList = Static<typeof NotificationChannelList>;

export const NotificationChannelIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type NotificationChannelIdParams = Static<typeof NotificationChannelIdParams>;

export const NotificationTestResult = Type.Object({
  delivered: Type.Boolean(),
  error: Type.Optional(Type.String({ description: 'What the receiver answered, or why it could not be reached' })),
});
export type NotificationTestResult = Static<typeof NotificationTestResult>;

// ---------------------------------------------------------------------------------------------
// Incidents (DESIGN 4.2)

export const INCIDENT_TYPES = [
  'cluster_offline',
  'fleet_connectivity',
  'node_not_ready',
  'pod_crash_looping',
  'image_pull_error',
  'oom_killed',
  'deployment_failed',
  'drift_detected',
  'agent_outdated',
] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];

export const IncidentSeverity = Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')]);
export type IncidentSeverity = Static<typeof IncidentSeverity>;

export const IncidentState = Type.Union([
  Type.Literal('firing'),
  Type.Literal('acknowledged'),
  Type.Literal('resolved'),
]);
export type IncidentState = Static<typeof IncidentState>;

export const INCIDENTS_LIMIT_DEFAULT = 50;
export const INCIDENTS_LIMIT_MAX = 500;

export const IncidentsQuery = Type.Object({
  state: Type.Optional(
    Type.Union([IncidentState, Type.Literal('open')], {
      description: 'firing, acknowledged, resolved, or open (firing and acknowledged); all when absent',
    }),
  ),
  cluster: Type.Optional(Type.String({ maxLength: 64, description: 'Cluster id' })),
  type: Type.Optional(Type.String({ maxLength: 64, description: 'Incident type, e.g. pod_crash_looping' })),
  severity: Type.Optional(
    Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')], {
      description: 'This severity or above',
    }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: INCIDENTS_LIMIT_MAX, default: INCIDENTS_LIMIT_DEFAULT })),
  cursor: Type.Optional(Type.String({ maxLength: 256, description: 'nextCursor of the previous page' })),
});
export type IncidentsQuery = Static<typeof IncidentsQuery>;

export const Incident = Type.Object({
  id: Type.String(),
  orgId: Type.Union([Type.String(), Type.Null()], { description: 'Null for fleet-wide incidents' }),
  clusterId: Type.Union([Type.String(), Type.Null()]),
  clusterName: Type.Union([Type.String(), Type.Null()]),
  type: Type.String(),
  severity: IncidentSeverity,
  state: IncidentState,
  scope: Type.String({
    description: 'What the incident is about: node name, pod owner (ns/Kind/name), deployment id…',
  }),
  fingerprint: Type.String({ description: 'cluster + type + scope' }),
  title: Type.String(),
  openedAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  acknowledgedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  acknowledgedBy: Type.Union([Type.String(), Type.Null()]),
  resolvedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type Incident = Static<typeof Incident>;

export const IncidentPage = Page(Incident);
export type IncidentPage = Static<typeof IncidentPage>;

export const IncidentTimelineEntry = Type.Object({
  at: Type.String({ format: 'date-time' }),
  kind: Type.String({ description: 'opened, acknowledged, evidence_added, notified, resolved' }),
  actor: Type.Union([Type.String(), Type.Null()], { description: 'Who did it; null for Niro itself' }),
  message: Type.String(),
  details: Type.Optional(Type.Unknown()),
});
export type IncidentTimelineEntry = Static<typeof IncidentTimelineEntry>;

export const IncidentDetail = Type.Object({
  ...Incident.properties,
  details: Type.Union([Type.Unknown(), Type.Null()]),
  evidence: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
    description: 'Captured when the incident opened: container states, restart history, Warning events, last log lines',
  }),
  timeline: Type.Array(IncidentTimelineEntry),
});
export type IncidentDetail = Static<typeof IncidentDetail>;

export const IncidentIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type IncidentIdParams = Static<typeof IncidentIdParams>;

/** Detection thresholds of an org; DESIGN 4.2's values are the defaults. */
export const IncidentSettings = Type.Object({
  crashLoopRestarts: Type.Integer({
    minimum: 1,
    maximum: 1000,
    description: 'Restarts within the window that make a pod crash-looping (default 3)',
  }),
  crashLoopWindowMinutes: Type.Integer({ minimum: 1, maximum: 1440, description: 'default 10' }),
  oomWindowMinutes: Type.Integer({
    minimum: 1,
    maximum: 1440,
    description: 'How long an OOM kill keeps its incident firing (default 10)',
  }),
  resolveAfterHeartbeats: Type.Integer({
    minimum: 1,
    maximum: 20,
    description: 'Consecutive heartbeats without the condition before an incident resolves (default 2)',
  }),
});
export type IncidentSettings = Static<typeof IncidentSettings>;

export const UpdateIncidentSettingsRequest = Type.Object(
  {
    crashLoopRestarts: Type.Optional(IncidentSettings.properties.crashLoopRestarts),
    crashLoopWindowMinutes: Type.Optional(IncidentSettings.properties.crashLoopWindowMinutes),
    oomWindowMinutes: Type.Optional(IncidentSettings.properties.oomWindowMinutes),
    resolveAfterHeartbeats: Type.Optional(IncidentSettings.properties.resolveAfterHeartbeats),
  },
  { additionalProperties: false, description: 'Fields left out go back to their defaults' },
);
export type UpdateIncidentSettingsRequest = Static<typeof UpdateIncidentSettingsRequest>;

export const AckIncidentRequest = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 1000, description: 'Shown in the timeline' })) },
  { additionalProperties: false },
);
export type AckIncidentRequest = Static<typeof AckIncidentRequest>;

// Invitations (issue 7): an admin invites someone by email to an org with a role; the link's
// token is shown once and accepting it creates the account (or checks the existing one's password).

export const INVITATION_EXPIRES_IN_HOURS_DEFAULT = 72;
export const INVITATION_EXPIRES_IN_HOURS_MAX = 720;

/** A pending invitation (never its token). */
export const Invitation = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  email: Type.String(),
  role: Role,
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time' }),
  createdBy: Type.Union([Type.String(), Type.Null()], {
    description: 'Email of the user who invited; null when that account is gone',
  }),
  expired: Type.Boolean({ description: 'The link no longer works; revoke it and invite again' }),
});
export type Invitation = Static<typeof Invitation>;

export const InvitationList = Type.Object({ items: Type.Array(Invitation) });
export type InvitationList = Static<typeof InvitationList>;

export const CreateInvitationRequest = Type.Object(
  {
    email: EmailAddress,
    role: Role,
    expiresInHours: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: INVITATION_EXPIRES_IN_HOURS_MAX,
        description: `How long the link works (default ${INVITATION_EXPIRES_IN_HOURS_DEFAULT})`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateInvitationRequest = Static<typeof CreateInvitationRequest>;

export const CreatedInvitation = Type.Object({
  invitation: Invitation,
  url: Type.String({ description: 'The link to send to the invitee: <public URL>/invite/<token>; shown once' }),
  token: Type.String({ description: 'niro_inv_…; shown once' }),
});
export type CreatedInvitation = Static<typeof CreatedInvitation>;

/** What the public invitation page shows before the invitee accepts. */
export const InvitationPreview = Type.Object({
  orgName: Type.String(),
  email: Type.String(),
  role: Role,
  expiresAt: Type.String({ format: 'date-time' }),
  existingUser: Type.Boolean({ description: 'An account with this email exists: accepting asks for its password' }),
});
export type InvitationPreview = Static<typeof InvitationPreview>;

export const AcceptInvitationRequest = Type.Object(
  {
    password: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: 'A new password (at least 8 characters) or, for an existing account, its password',
    }),
  },
  { additionalProperties: false },
);
export type AcceptInvitationRequest = Static<typeof AcceptInvitationRequest>;

export const AcceptedInvitation = Type.Object({ orgId: Type.String() });
export type AcceptedInvitation = Static<typeof AcceptedInvitation>;

export const InvitationParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  invitationId: Type.String({ minLength: 1, maxLength: 64 }),
});
export type InvitationParams = Static<typeof InvitationParams>;

export const InvitationTokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) });
export type InvitationTokenParams = Static<typeof InvitationTokenParams>;

// Usage history

export const UsageRange = Type.Union([Type.Literal('1h'), Type.Literal('24h')], {
  description: '1h: a point per heartbeat; 24h: 5-minute averages',
});
export type UsageRange = Static<typeof UsageRange>;

export const UsageQuery = Type.Object({ range: Type.Optional(UsageRange) });
export type UsageQuery = Static<typeof UsageQuery>;

const NullableUsageNumber = Type.Union([Type.Number(), Type.Null()]);

export const UsagePoint = Type.Object({
  t: Type.String({ format: 'date-time', description: 'Sample time (1h) or bucket start (24h)' }),
  cpuMilli: NullableUsageNumber,
  memoryBytes: NullableUsageNumber,
  podsRunning: NullableUsageNumber,
});
export type UsagePoint = Static<typeof UsagePoint>;

export const ClusterUsage = Type.Object({
  clusterId: Type.String(),
  range: UsageRange,
  stepSeconds: Type.Number({ description: 'Heartbeat interval (1h) or 300 (24h)' }),
  capacity: Type.Object({ cpuMilli: Type.Number(), memoryBytes: Type.Number() }),
  points: Type.Array(UsagePoint, {
    description: 'Oldest first; a point with null values marks a gap of more than two steps',
  }),
});
export type ClusterUsage = Static<typeof ClusterUsage>;

export const PodUsagePoint = Type.Object({
  t: Type.String({ format: 'date-time' }),
  cpuMilli: NullableUsageNumber,
  memoryBytes: NullableUsageNumber,
});
export type PodUsagePoint = Static<typeof PodUsagePoint>;

export const PodUsage = Type.Object({
  clusterId: Type.String(),
  namespace: Type.String(),
  pod: Type.String(),
  range: UsageRange,
  stepSeconds: Type.Number({ description: '60 (1h) or 300 (24h)' }),
  points: Type.Array(PodUsagePoint, { description: 'Oldest first; empty when nothing was recorded' }),
});
export type PodUsage = Static<typeof PodUsage>;

// Pod detail: one pod as last reported, with its containers' requests and limits and its usage.
export const ClusterPodParams = Type.Object({
  id: Type.String({ maxLength: 64 }),
  namespace: Type.String({ minLength: 1, maxLength: 253 }),
  pod: Type.String({ minLength: 1, maxLength: 253 }),
});
export type ClusterPodParams = Static<typeof ClusterPodParams>;

export const ClusterPodDetail = Type.Object({
  clusterId: Type.String(),
  pod: Pod,
  usage: Type.Union([Type.Object({ cpuMilli: Type.Number(), memoryBytes: Type.Number() }), Type.Null()], {
    description: 'The last usage metrics-server reported for the pod; null without metrics-server',
  }),
});
export type ClusterPodDetail = Static<typeof ClusterPodDetail>;

// ---------------------------------------------------------------------------------------------
// Registries (DESIGN 4.5): pull credentials, verified against the registry before saving; the
// password or token is never part of a reply.

export const RegistryName = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });

export const Registry = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  name: Type.String(),
  server: Type.String({ description: 'host[:port], e.g. ghcr.io, docker.io, 127.0.0.1:5000' }),
  username: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastVerifiedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the registry last accepted the credential',
  }),
});
export type Registry = Static<typeof Registry>;

export const RegistryList = Type.Object({ items: Type.Array(Registry) });
export type RegistryList = Static<typeof RegistryList>;

export const CreateRegistryRequest = Type.Object(
  {
    name: RegistryName,
    server: Type.String({
      minLength: 1,
      maxLength: 300,
      description:
        'The registry host, optionally with port and https:// (http:// only for loopback registries): ' +
        'ghcr.io, docker.io, registry.example.com:5000',
    }),
    username: Type.String({ minLength: 1, maxLength: 256, pattern: '^[^:\\s]+$' }),
    password: Type.String({ minLength: 1, maxLength: 8192, description: 'Password or access token; never returned' }),
    orgId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'The organization; needed only when you are a member of several',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateRegistryRequest = Static<typeof CreateRegistryRequest>;

export const RegistryIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type RegistryIdParams = Static<typeof RegistryIdParams>;
