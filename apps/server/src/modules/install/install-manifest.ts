import {
  AGENT_INSTALL_LABEL,
  AGENT_INSTALL_LABEL_VALUE,
  AGENT_NAME,
  AGENT_NAMESPACE,
  AGENT_READ_ROLE,
  AGENT_READ_RULES,
  AGENT_SECRETS_ROLE,
  AGENT_SECRETS_RULES,
  AGENT_TOKEN_SECRET,
  CAPABILITY_GRANTS,
  CAPABILITY_NAMES,
  type CapabilityGrant,
  type CapabilityName,
  type Capabilities,
  type PolicyRule,
} from '@niro/protocol';
import { stringify } from 'yaml';

/**
 * The agent install manifest (DESIGN 3.4), rendered from the RBAC rules in `@niro/protocol` that
 * the agent also probes, so what is installed and what the agent reports cannot drift apart.
 */
export type ManifestOptions = {
  capabilities: Capabilities;
  image: string;
  /** The URL the agent dials (the server's public URL). */
  serverUrl: string;
};

/** A Kubernetes object as plain data, ready for YAML. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  [field: string]: unknown;
};

/** Fixed non-root identity; deploy/agent/Dockerfile runs as the same numeric user. */
export const AGENT_UID = 65532;
/** The agent targets < 80 MB RSS; the limit leaves room for a burst while a full snapshot is built. */
export const AGENT_RESOURCES = {
  requests: { cpu: '10m', memory: '64Mi' },
  limits: { memory: '160Mi' },
} as const;

const SELECTOR_LABEL = 'app.kubernetes.io/name';

export function defaultCapabilities(): Capabilities {
  return capabilitiesFrom((name) => CAPABILITY_GRANTS[name].defaultOn);
}

export function capabilitiesFrom(enabled: (name: CapabilityName) => boolean): Capabilities {
  return { pods: enabled('pods'), logs: enabled('logs'), apply: enabled('apply'), selfUpdate: enabled('selfUpdate') };
}

/** What the binding of a capability is: a ClusterRoleBinding, or a RoleBinding in the agent's namespace. */
export function capabilityBinding(grant: CapabilityGrant): {
  kind: 'ClusterRoleBinding' | 'RoleBinding';
  namespace?: string;
} {
  return grant.scope === 'cluster'
    ? { kind: 'ClusterRoleBinding' }
    : { kind: 'RoleBinding', namespace: AGENT_NAMESPACE };
}

export function agentManifestObjects(options: ManifestOptions): KubeObject[] {
  const objects: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: AGENT_NAMESPACE,
        // The agent pod meets the `restricted` Pod Security Standard; say so, so nothing weaker lands here.
        labels: { ...installLabels(), 'pod-security.kubernetes.io/enforce': 'restricted' },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: AGENT_NAME, namespace: AGENT_NAMESPACE, labels: installLabels() },
    },
    clusterRole(AGENT_READ_ROLE, AGENT_READ_RULES),
    binding('ClusterRoleBinding', AGENT_READ_ROLE, 'ClusterRole'),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: AGENT_SECRETS_ROLE, namespace: AGENT_NAMESPACE, labels: installLabels() },
      rules: AGENT_SECRETS_RULES.map(kubeRule),
    },
    binding('RoleBinding', AGENT_SECRETS_ROLE, 'Role', AGENT_NAMESPACE),
  ];
  for (const name of CAPABILITY_NAMES) {
    if (!options.capabilities[name]) continue;
    const grant = CAPABILITY_GRANTS[name];
    const where = capabilityBinding(grant);
    objects.push(
      clusterRole(grant.roleName, grant.rules),
      binding(where.kind, grant.roleName, 'ClusterRole', where.namespace),
    );
  }
  objects.push(agentDeployment(options));
  return objects;
}

/** Multi-document YAML for `kubectl apply -f -`. */
export function renderAgentManifest(options: ManifestOptions): string {
  const enabled = CAPABILITY_NAMES.map((n) => `${n}=${options.capabilities[n] ? 'on' : 'off'}`).join(', ');
  const header = [
    '# Niro agent: namespace, service account, RBAC and Deployment.',
    `# Capabilities: ${enabled}. Change them by re-running install.sh with NIRO_ENABLE_* flags.`,
    '',
  ].join('\n');
  // Rules share arrays (e.g. the read verbs): write them out in full, never as YAML aliases.
  const docs = agentManifestObjects(options).map((o) => stringify(o, { aliasDuplicateObjects: false, lineWidth: 0 }));
  return header + docs.map((d) => `---\n${d}`).join('');
}

function installLabels(): Record<string, string> {
  return { [AGENT_INSTALL_LABEL]: AGENT_INSTALL_LABEL_VALUE };
}

function kubeRule(rule: PolicyRule): Record<string, string[]> {
  const out: Record<string, string[]> = {
    apiGroups: [...rule.apiGroups],
    resources: [...rule.resources],
    verbs: [...rule.verbs],
  };
  if (rule.resourceNames !== undefined) out.resourceNames = [...rule.resourceNames];
  return out;
}

function clusterRole(name: string, rules: PolicyRule[]): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, labels: installLabels() },
    rules: rules.map(kubeRule),
  };
}

function binding(
  kind: 'ClusterRoleBinding' | 'RoleBinding',
  name: string,
  roleKind: 'ClusterRole' | 'Role',
  namespace?: string,
): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata:
      namespace === undefined ? { name, labels: installLabels() } : { name, namespace, labels: installLabels() },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name },
    subjects: [{ kind: 'ServiceAccount', name: AGENT_NAME, namespace: AGENT_NAMESPACE }],
  };
}

function agentDeployment(options: ManifestOptions): KubeObject {
  const podLabels = { ...installLabels(), [SELECTOR_LABEL]: AGENT_NAME };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: AGENT_NAME, namespace: AGENT_NAMESPACE, labels: podLabels },
    spec: {
      replicas: 1,
      // Two agents holding one key would fight over the command channel: never overlap them.
      strategy: { type: 'Recreate' },
      revisionHistoryLimit: 3,
      selector: { matchLabels: { [SELECTOR_LABEL]: AGENT_NAME } },
      template: {
        metadata: { labels: podLabels },
        spec: {
          serviceAccountName: AGENT_NAME,
          automountServiceAccountToken: true,
          enableServiceLinks: false,
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          securityContext: {
            runAsNonRoot: true,
            runAsUser: AGENT_UID,
            runAsGroup: AGENT_UID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'agent',
              image: options.image,
              imagePullPolicy: 'IfNotPresent',
              env: [
                { name: 'NIRO_URL', value: options.serverUrl },
                {
                  name: 'NIRO_TOKEN',
                  valueFrom: { secretKeyRef: { name: AGENT_TOKEN_SECRET, key: 'token', optional: true } },
                },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              ],
              resources: {
                requests: { ...AGENT_RESOURCES.requests },
                limits: { ...AGENT_RESOURCES.limits },
              },
              securityContext: {
                runAsNonRoot: true,
                runAsUser: AGENT_UID,
                runAsGroup: AGENT_UID,
                readOnlyRootFilesystem: true,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
            },
          ],
        },
      },
    },
  };
}
