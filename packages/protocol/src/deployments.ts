import { Type, type Static } from 'typebox';
import { ObjectResult } from './agent.js';
import { ManifestError, PolicyFinding } from './api.js';
import { DeploymentForm } from './deployment-form.js';

/** Deployments (DESIGN 4.5, HTTP API v1 `/deployments`). Request bodies reject unknown fields. */

/** Manifests of one deployment: the apply payload's limit. */
export const DEPLOYMENT_MANIFESTS_MAX_BYTES = 2 * 1024 * 1024;

export const DeploymentName = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$',
  description: 'DNS label: lower-case letters, digits and dashes',
});
export const NamespaceName = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$',
  description: 'A Kubernetes namespace name',
});

const GitUrl = Type.String({ minLength: 8, maxLength: 2048, description: 'An https:// URL of a Git repository' });
const GitRef = Type.String({
  minLength: 1,
  maxLength: 255,
  description: 'A branch, a tag or a full commit SHA',
});
const GitPath = Type.String({
  maxLength: 1024,
  description: 'A folder in the repository, relative to its root ("" or "." for the root)',
});
export const GitCredential = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 256 }),
    password: Type.String({ minLength: 1, maxLength: 4096, description: 'A password or access token; never returned' }),
  },
  { additionalProperties: false },
);
export type GitCredential = Static<typeof GitCredential>;

export const BuilderSource = Type.Object(
  { type: Type.Literal('builder'), form: DeploymentForm },
  { additionalProperties: false },
);
export const YamlSource = Type.Object(
  {
    type: Type.Literal('yaml'),
    yaml: Type.String({ minLength: 1, maxLength: DEPLOYMENT_MANIFESTS_MAX_BYTES }),
  },
  { additionalProperties: false },
);
export const GitSourceRequest = Type.Object(
  {
    type: Type.Literal('git'),
    url: GitUrl,
    ref: GitRef,
    path: GitPath,
    credential: Type.Optional(GitCredential),
  },
  { additionalProperties: false },
);
/** A deployment's source as written by a client. */
export const DeploymentSourceRequest = Type.Union([BuilderSource, YamlSource, GitSourceRequest]);
export type DeploymentSourceRequest = Static<typeof DeploymentSourceRequest>;

/** A deployment's source as read back: a Git credential is only said to exist. */
export const DeploymentSource = Type.Union([
  BuilderSource,
  YamlSource,
  Type.Object({
    type: Type.Literal('git'),
    url: Type.String(),
    ref: Type.String(),
    path: Type.String(),
    hasCredential: Type.Boolean(),
  }),
]);
export type DeploymentSource = Static<typeof DeploymentSource>;

/** The outcome of the latest apply (`new` before the first). */
export const DeploymentStatus = Type.Union([
  Type.Literal('new'),
  Type.Literal('pending'),
  Type.Literal('succeeded'),
  Type.Literal('partial'),
  Type.Literal('failed'),
]);
export type DeploymentStatus = Static<typeof DeploymentStatus>;

/** `active` while managed; `deleting` until the agent removed the objects; then archived. */
export const DeploymentLifecycle = Type.Union([
  Type.Literal('active'),
  Type.Literal('deleting'),
  Type.Literal('deleted'),
  Type.Literal('unmanaged'),
]);
export type DeploymentLifecycle = Static<typeof DeploymentLifecycle>;

/** Whether the workloads of the applied revision are ready (from the agent's heartbeats). */
export const RolloutState = Type.Union([
  Type.Literal('none'),
  Type.Literal('progressing'),
  Type.Literal('ready'),
  Type.Literal('stalled'),
]);
export type RolloutState = Static<typeof RolloutState>;

export const RolloutPod = Type.Object({
  name: Type.String(),
  phase: Type.String(),
  ready: Type.Boolean(),
  restarts: Type.Integer(),
  /** A waiting or terminated container's reason, e.g. ImagePullBackOff. */
  reason: Type.Union([Type.String(), Type.Null()]),
  workload: Type.String({ description: 'Kind/name of the workload the pod belongs to' }),
});
export type RolloutPod = Static<typeof RolloutPod>;

export const RolloutWorkload = Type.Object({
  kind: Type.String(),
  name: Type.String(),
  replicas: Type.Integer(),
  updatedReplicas: Type.Integer(),
  readyReplicas: Type.Integer(),
  availableReplicas: Type.Integer(),
  /** The agent has reported the generation the apply wrote. */
  observed: Type.Boolean(),
  ready: Type.Boolean(),
});
export type RolloutWorkload = Static<typeof RolloutWorkload>;

export const Rollout = Type.Object({
  state: RolloutState,
  revision: Type.Union([Type.Integer(), Type.Null()]),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  /** When a rollout that is not ready by then counts as stalled (the workloads' progress deadline). */
  deadlineAt: Type.Union([Type.String(), Type.Null()]),
  readyAt: Type.Union([Type.String(), Type.Null()]),
  desiredReplicas: Type.Integer(),
  updatedReplicas: Type.Integer(),
  readyReplicas: Type.Integer(),
  availableReplicas: Type.Integer(),
  workloads: Type.Array(RolloutWorkload),
  pods: Type.Array(RolloutPod),
  /** When the cluster's inventory these figures come from was reported; null without one. */
  reportedAt: Type.Union([Type.String(), Type.Null()]),
});
export type Rollout = Static<typeof Rollout>;

export const DriftState = Type.Union([
  Type.Literal('unknown'),
  Type.Literal('checking'),
  Type.Literal('clean'),
  Type.Literal('drifted'),
]);
export type DriftState = Static<typeof DriftState>;

export const DeploymentDrift = Type.Object({
  state: DriftState,
  checkedAt: Type.Union([Type.String(), Type.Null()]),
  objects: Type.Array(ObjectResult, { description: 'The drifted or missing objects of the last check' }),
});
export type DeploymentDrift = Static<typeof DeploymentDrift>;

export const FindingCounts = Type.Object({
  info: Type.Integer(),
  low: Type.Integer(),
  medium: Type.Integer(),
  high: Type.Integer(),
});

export const Deployment = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  clusterId: Type.String(),
  clusterName: Type.String(),
  environment: Type.String(),
  namespace: Type.String(),
  name: Type.String(),
  source: DeploymentSource,
  status: DeploymentStatus,
  lifecycle: DeploymentLifecycle,
  /** The newest revision (0 before the first apply). */
  revision: Type.Integer(),
  /** The revision whose apply last succeeded (or partly did); null before one did. */
  appliedRevision: Type.Union([Type.Integer(), Type.Null()]),
  rollout: Rollout,
  drift: DeploymentDrift,
  /** Policy findings of the newest revision by severity. */
  findingCounts: FindingCounts,
  /** The message of the latest failed apply, delete or Git fetch. */
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  updatedAt: Type.String(),
  archivedAt: Type.Union([Type.String(), Type.Null()]),
});
export type Deployment = Static<typeof Deployment>;

export const DEPLOYMENTS_LIMIT_MAX = 1000;

export const DeploymentList = Type.Object({
  items: Type.Array(Deployment),
  /** Pass as `cursor` for the next page; absent or null on the last one. */
  nextCursor: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type DeploymentList = Static<typeof DeploymentList>;

export const CreateDeploymentRequest = Type.Object(
  {
    name: DeploymentName,
    clusterId: Type.String({ minLength: 1, maxLength: 64 }),
    namespace: NamespaceName,
    source: DeploymentSourceRequest,
    /** Apply at once (the default), or only store the deployment. */
    apply: Type.Optional(Type.Boolean({ default: true })),
    /** With apply: a note stored with the revision. */
    message: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type CreateDeploymentRequest = Static<typeof CreateDeploymentRequest>;

export const UpdateDeploymentRequest = Type.Object(
  {
    source: Type.Optional(DeploymentSourceRequest),
    /** Apply the new source at once; without it the change waits for POST …/apply. */
    apply: Type.Optional(Type.Boolean({ default: false })),
    /** With apply: delete objects of earlier revisions that this one no longer has (default true). */
    prune: Type.Optional(Type.Boolean({ default: true })),
    /** With apply: a note stored with the revision. */
    message: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type UpdateDeploymentRequest = Static<typeof UpdateDeploymentRequest>;

export const ApplyDeploymentRequest = Type.Object(
  {
    /** Delete objects of earlier revisions that this one no longer has (default true). */
    prune: Type.Optional(Type.Boolean({ default: true })),
    /** A note stored with the revision. */
    message: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type ApplyDeploymentRequest = Static<typeof ApplyDeploymentRequest>;

export const RollbackDeploymentRequest = Type.Object(
  { revision: Type.Integer({ minimum: 1, description: 'The revision to apply again' }) },
  { additionalProperties: false },
);
export type RollbackDeploymentRequest = Static<typeof RollbackDeploymentRequest>;

export const DeploymentIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const DeploymentRevisionParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  revision: Type.Integer({ minimum: 1 }),
});

export const ListDeploymentsQuery = Type.Object({
  cluster: Type.Optional(Type.String({ maxLength: 64 })),
  namespace: Type.Optional(Type.String({ maxLength: 63 })),
  status: Type.Optional(DeploymentStatus),
  /** Archived deployments too (deleted or no longer managed). */
  archived: Type.Optional(Type.Boolean()),
  q: Type.Optional(Type.String({ maxLength: 100, description: 'Part of the name' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: DEPLOYMENTS_LIMIT_MAX, default: DEPLOYMENTS_LIMIT_MAX })),
  cursor: Type.Optional(Type.String({ maxLength: 32, description: 'The nextCursor of the previous page' })),
});
export type ListDeploymentsQuery = Static<typeof ListDeploymentsQuery>;

/** The source a revision was made from, as it was then (for Git, with the commit). */
export const RevisionSource = Type.Union([
  Type.Object({ type: Type.Literal('builder'), form: DeploymentForm }),
  Type.Object({ type: Type.Literal('yaml') }),
  Type.Object({
    type: Type.Literal('git'),
    url: Type.String(),
    ref: Type.String(),
    path: Type.String(),
    commit: Type.String(),
    rendered: Type.Union([Type.Literal('plain'), Type.Literal('kustomize')]),
  }),
]);
export type RevisionSource = Static<typeof RevisionSource>;

export const RevisionStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('succeeded'),
  Type.Literal('partial'),
  Type.Literal('failed'),
  Type.Literal('expired'),
  Type.Literal('cancelled'),
]);
export type RevisionStatus = Static<typeof RevisionStatus>;

export const DeploymentRevisionSummary = Type.Object({
  revision: Type.Integer(),
  createdAt: Type.String(),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  source: RevisionSource,
  status: RevisionStatus,
  commandId: Type.Union([Type.String(), Type.Null()]),
  /** The revision this one re-applied (a rollback). */
  rollbackOf: Type.Union([Type.Integer(), Type.Null()]),
  prune: Type.Boolean(),
  message: Type.Union([Type.String(), Type.Null()]),
  findingCounts: FindingCounts,
  completedAt: Type.Union([Type.String(), Type.Null()]),
});
export type DeploymentRevisionSummary = Static<typeof DeploymentRevisionSummary>;

export const DeploymentRevisionList = Type.Object({ items: Type.Array(DeploymentRevisionSummary) });
export type DeploymentRevisionList = Static<typeof DeploymentRevisionList>;

export const DeploymentRevision = Type.Object({
  ...DeploymentRevisionSummary.properties,
  manifests: Type.String({ description: 'The YAML that was applied (pull Secrets are added at delivery, not stored)' }),
  findings: Type.Array(PolicyFinding),
  manifestErrors: Type.Array(ManifestError),
  objects: Type.Array(ObjectResult, { description: 'Per-object results of the apply' }),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
});
export type DeploymentRevision = Static<typeof DeploymentRevision>;
