import type { Capabilities } from './agent.js';

// No runtime import of the schema modules here: the agent loads this file alone
// ('@niro/protocol/agent-install') and TypeBox costs it ~25 MB of RSS.

/**
 * What the install manifest creates and what the agent checks it was given. The server renders
 * the manifest from these rules and the agent probes the same permissions with
 * SelfSubjectAccessReviews, so the two cannot drift apart (DESIGN 3.4 and 4.4).
 */
export const AGENT_NAMESPACE = 'niro-system';
export const AGENT_NAME = 'niro-agent';
/** Holds `agentKey`, `clusterId` and the digest of the token it was enrolled with. */
export const AGENT_KEY_SECRET = 'niro-agent-key';
/** Holds the single-use enrollment token (`token`) until the agent has exchanged it. */
export const AGENT_TOKEN_SECRET = 'niro-agent-token';
/** Label on every object the installer creates, so `kubectl delete -l` uninstalls it all. */
export const AGENT_INSTALL_LABEL = 'app.kubernetes.io/part-of';
export const AGENT_INSTALL_LABEL_VALUE = 'niro-agent';

export type CapabilityName = keyof Capabilities;
export const CAPABILITY_NAMES: readonly CapabilityName[] = ['pods', 'logs', 'apply', 'selfUpdate'];

export type PolicyRule = {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
};

/** A `SelfSubjectAccessReview` `resourceAttributes` value. */
export type AccessProbe = {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
};

export type CapabilityGrant = {
  /** Name of the ClusterRole and of its binding. */
  roleName: string;
  /** The `install.sh` variable that turns it on, and its default. */
  envVar: string;
  defaultOn: boolean;
  /** Query parameter of `GET /install/manifest.yaml`. */
  queryParam: string;
  /**
   * `cluster`: a ClusterRoleBinding; `agent-namespace`: a RoleBinding in the agent's namespace
   * (the ClusterRole is then only effective there).
   */
  scope: 'cluster' | 'agent-namespace';
  rules: PolicyRule[];
  /** The capability is on when every probe is allowed. */
  probes: AccessProbe[];
  summary: string;
};

const READ = ['get', 'list', 'watch'];

/**
 * Read-only access the agent always has: what the heartbeat reports apart from pods, including
 * the policy objects (Services, ServiceAccounts, PodDisruptionBudgets, HorizontalPodAutoscalers,
 * NetworkPolicies). An older install without the latter still works: the agent then reports no
 * policy objects at all.
 */
export const AGENT_READ_ROLE = 'niro-agent-read';
export const AGENT_READ_RULES: PolicyRule[] = [
  { apiGroups: [''], resources: ['nodes', 'namespaces', 'events', 'services', 'serviceaccounts'], verbs: READ },
  { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], verbs: READ },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: READ },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: READ },
  { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: READ },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: READ },
  { apiGroups: ['metrics.k8s.io'], resources: ['nodes', 'pods'], verbs: ['get', 'list'] },
];

/** The agent's own Secrets, in its namespace only (a Role, not a ClusterRole). */
export const AGENT_SECRETS_ROLE = 'niro-agent-secrets';
export const AGENT_SECRETS_RULES: PolicyRule[] = [
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'update', 'patch'], resourceNames: [AGENT_KEY_SECRET] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'delete'], resourceNames: [AGENT_TOKEN_SECRET] },
  // `create` cannot be limited by name in RBAC; the Role keeps it inside the agent's namespace.
  { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
];

export const CAPABILITY_GRANTS: Record<CapabilityName, CapabilityGrant> = {
  pods: {
    roleName: 'niro-agent-pods',
    envVar: 'NIRO_ENABLE_PODS',
    defaultOn: true,
    queryParam: 'pods',
    scope: 'cluster',
    rules: [{ apiGroups: [''], resources: ['pods'], verbs: READ }],
    probes: [
      { verb: 'list', group: '', resource: 'pods' },
      { verb: 'watch', group: '', resource: 'pods' },
    ],
    summary: 'read pods in every namespace (pod lists, restarts, images)',
  },
  logs: {
    roleName: 'niro-agent-logs',
    envVar: 'NIRO_ENABLE_LOGS',
    defaultOn: false,
    queryParam: 'logs',
    scope: 'cluster',
    rules: [
      { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    ],
    probes: [{ verb: 'get', group: '', resource: 'pods', subresource: 'log' }],
    summary: 'read container logs',
  },
  apply: {
    roleName: 'niro-agent-apply',
    envVar: 'NIRO_ENABLE_APPLY',
    defaultOn: false,
    queryParam: 'apply',
    scope: 'cluster',
    // Broad on purpose: deployments may hold any kind. No escalate, bind or impersonate.
    rules: [
      { apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
    ],
    probes: [
      { verb: 'create', group: '*', resource: '*' },
      { verb: 'patch', group: '*', resource: '*' },
      { verb: 'delete', group: '*', resource: '*' },
    ],
    summary: 'create, change and delete objects of any kind (deployments, rollback, prune)',
  },
  selfUpdate: {
    roleName: 'niro-agent-self-update',
    envVar: 'NIRO_ENABLE_SELF_UPDATE',
    defaultOn: false,
    queryParam: 'selfUpdate',
    scope: 'agent-namespace',
    rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'], resourceNames: [AGENT_NAME] }],
    probes: [{ verb: 'patch', group: 'apps', resource: 'deployments', namespace: AGENT_NAMESPACE, name: AGENT_NAME }],
    summary: "change the agent's own image (self-update)",
  },
};

/** Label on every object Niro applies for a managed deployment; its value is the deployment id. */
export const DEPLOYMENT_ID_LABEL = 'niro.dev/deployment-id';
