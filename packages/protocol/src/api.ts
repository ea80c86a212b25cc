import { Type, type Static } from 'typebox';
import { Capabilities } from './agent.js';

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
  summary: ClusterSummary,
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
