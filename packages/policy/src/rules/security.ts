import type { Container, KubeObject, RelatedObjects, Rule, RuleHit, Workload } from '../types.js';
import { isRecord, labelSelectorMatches } from '../workloads.js';

/** Kubernetes label-selector semantics; an empty selector selects everything. */
export const selectorMatches = labelSelectorMatches;

/**
 * Security rules. Severities follow the Pod Security Standards: a Baseline violation (privileged,
 * host namespaces, hostPath, added capabilities) is high everywhere because it hands the node to the
 * container; a Restricted-level gap (root user, privilege escalation, no seccomp profile) is medium
 * outside production and high in it; hygiene that no PSS level requires is lower.
 */

type Fields = Record<string, unknown>;

function asRecord(value: unknown): Fields | undefined {
  return isRecord(value) ? value : undefined;
}

function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function securityContextOf(container: Container): Fields {
  return asRecord(container.spec.securityContext) ?? {};
}

function podSecurityContextOf(workload: Workload): Fields {
  return asRecord(workload.podSpec.securityContext) ?? {};
}

function quote(names: readonly string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}

/** `CAP_SYS_ADMIN`, `sys_admin` and `SYS_ADMIN` name the same capability. */
function capabilityName(value: string): string {
  const upper = value.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

function addedCapabilities(container: Container): { name: string; index: number }[] {
  const capabilities = asRecord(securityContextOf(container).capabilities);
  return asArray(capabilities?.add).flatMap((value, index) =>
    typeof value === 'string' ? [{ name: capabilityName(value), index }] : [],
  );
}

/** Capabilities the Pod Security Standards Baseline level allows a container to add. */
export const BASELINE_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

const CAPABILITY_RISKS: Readonly<Record<string, string>> = {
  ALL: 'every Linux capability, which is as good as privileged',
  SYS_ADMIN: 'mount, namespace and most kernel administration, the usual path out of a container',
  NET_ADMIN: 'control over the pod network: interfaces, routes and firewall rules',
  NET_RAW: 'raw sockets, used for spoofing and sniffing on the node network',
  SYS_PTRACE: 'tracing and reading the memory of other processes',
  SYS_MODULE: 'loading kernel modules into the node',
  BPF: 'loading eBPF programs into the node kernel',
  PERFMON: 'kernel performance monitoring, which exposes kernel memory',
  DAC_READ_SEARCH: 'reading any file regardless of permissions',
  SYS_RAWIO: 'raw I/O on the node devices',
  SYS_TIME: 'setting the node clock',
};

const privilegedContainer: Rule = {
  id: 'privileged-container',
  title: 'Container runs privileged',
  category: 'security',
  description:
    'A privileged container has every Linux capability and the devices of the node, with no seccomp or AppArmor confinement: a compromise of the process is a compromise of the node and of every pod on it. The Pod Security Standards Baseline level forbids it.',
  fix: 'Remove `securityContext.privileged: true`; if the container needs one specific power, add that single capability instead.',
  reads: [
    'containers[].securityContext.privileged',
    'initContainers[].securityContext.privileged',
    'ephemeralContainers[].securityContext.privileged',
  ],
  severity: { nonProduction: 'high', production: 'high' },
  check({ containers }) {
    return containers
      .filter((container) => securityContextOf(container).privileged === true)
      .map((container) => ({
        message: `Container "${container.name}" runs privileged: it has every capability and the devices of the node.`,
        container: container.name,
        path: `${container.path}.securityContext.privileged`,
      }));
  },
};

const privilegeEscalation: Rule = {
  id: 'privilege-escalation',
  title: 'Privilege escalation allowed',
  category: 'security',
  description:
    'Unless `allowPrivilegeEscalation` is false, a process can gain more privileges than its parent through setuid binaries or file capabilities, so a bug in the application can become root inside the container. Kubernetes allows escalation by default, and always for privileged containers and containers with CAP_SYS_ADMIN. The Pod Security Standards Restricted level requires it to be false.',
  fix: 'Set `securityContext.allowPrivilegeEscalation: false` on each container (and drop `privileged` or CAP_SYS_ADMIN, which imply escalation).',
  reads: [
    'containers[].securityContext.allowPrivilegeEscalation',
    'containers[].securityContext.privileged',
    'containers[].securityContext.capabilities.add',
    'initContainers[].securityContext',
    'ephemeralContainers[].securityContext',
  ],
  severity: { nonProduction: 'medium', production: 'high' },
  check({ containers }) {
    return containers.flatMap((container): RuleHit[] => {
      const context = securityContextOf(container);
      const base = `${container.path}.securityContext`;
      // The API server rejects allowPrivilegeEscalation: false next to privileged or CAP_SYS_ADMIN, so
      // those two are what has to change, and the hit points at them.
      if (context.privileged === true) {
        return [
          {
            message: `Container "${container.name}" can escalate privileges: privileged: true implies allowPrivilegeEscalation.`,
            container: container.name,
            path: `${base}.privileged`,
          },
        ];
      }
      const sysAdmin = addedCapabilities(container).find(({ name }) => name === 'SYS_ADMIN');
      if (sysAdmin) {
        return [
          {
            message: `Container "${container.name}" can escalate privileges: CAP_SYS_ADMIN implies allowPrivilegeEscalation.`,
            container: container.name,
            path: `${base}.capabilities.add[${sysAdmin.index}]`,
          },
        ];
      }
      if (context.allowPrivilegeEscalation === false) return [];
      const explicit = context.allowPrivilegeEscalation === true;
      return [
        {
          message: explicit
            ? `Container "${container.name}" sets allowPrivilegeEscalation: true.`
            : `Container "${container.name}" does not set allowPrivilegeEscalation: false, so setuid binaries can gain privileges.`,
          container: container.name,
          path: `${base}.allowPrivilegeEscalation`,
        },
      ];
    });
  },
};

const runAsRoot: Rule = {
  id: 'run-as-root',
  title: 'Container may run as root',
  category: 'security',
  description:
    'A process running as UID 0 is root inside the container, and root in the container is one kernel bug or one misconfigured mount away from root on the node. Without `runAsNonRoot: true` or a non-zero `runAsUser`, the image decides, and most images run as root. The Pod Security Standards Restricted level requires `runAsNonRoot: true`.',
  fix: 'Set `securityContext.runAsNonRoot: true` (and a non-zero `runAsUser` if the image has no numeric USER) on the pod, and never `runAsUser: 0`.',
  reads: [
    'securityContext.runAsNonRoot',
    'securityContext.runAsUser',
    'containers[].securityContext.runAsNonRoot',
    'containers[].securityContext.runAsUser',
    'initContainers[].securityContext',
    'ephemeralContainers[].securityContext',
  ],
  severity: { nonProduction: 'medium', production: 'high' },
  check({ workload, containers }) {
    const pod = podSecurityContextOf(workload);
    const podPath = `${workload.podSpecPath}.securityContext`;
    return containers.flatMap((container): RuleHit[] => {
      const own = securityContextOf(container);
      const ownPath = `${container.path}.securityContext`;
      // A container's own setting overrides the pod's.
      const userPath = own.runAsUser !== undefined ? ownPath : podPath;
      const user = own.runAsUser ?? pod.runAsUser;
      const nonRootPath = own.runAsNonRoot !== undefined ? ownPath : podPath;
      const nonRoot = own.runAsNonRoot ?? pod.runAsNonRoot;
      if (user === 0) {
        return [
          {
            message: `Container "${container.name}" runs as root: runAsUser is 0.`,
            container: container.name,
            path: `${userPath}.runAsUser`,
          },
        ];
      }
      if (nonRoot === true) return [];
      if (typeof user === 'number' && user > 0) return [];
      return [
        {
          message:
            nonRoot === false
              ? `Container "${container.name}" sets runAsNonRoot: false and no non-zero runAsUser, so it runs as whatever user the image says, often root.`
              : `Container "${container.name}" sets neither runAsNonRoot: true nor a non-zero runAsUser (pod or container), so it runs as whatever user the image says, often root.`,
          container: container.name,
          path: `${nonRoot === false ? nonRootPath : ownPath}.runAsNonRoot`,
        },
      ];
    });
  },
};

const HOST_NAMESPACES = [
  { field: 'hostNetwork', what: "the node's network stack: every port and interface of the node" },
  { field: 'hostPID', what: "the node's process table: it can see and signal every process on the node" },
  { field: 'hostIPC', what: "the node's IPC namespace: shared memory of every process on the node" },
] as const;

const hostNamespaces: Rule = {
  id: 'host-namespaces',
  title: 'Pod shares host namespaces',
  category: 'security',
  description:
    "`hostNetwork`, `hostPID` and `hostIPC` put the pod in the node's own namespaces, so it sees the node's network, processes or shared memory and bypasses NetworkPolicies. The Pod Security Standards Baseline level forbids all three, and Windows HostProcess pods.",
  fix: 'Remove `hostNetwork`, `hostPID` and `hostIPC` from the pod spec; expose ports through a Service instead of the host network.',
  reads: [
    'hostNetwork',
    'hostPID',
    'hostIPC',
    'securityContext.windowsOptions.hostProcess',
    'containers[].securityContext.windowsOptions.hostProcess',
  ],
  severity: { nonProduction: 'high', production: 'high' },
  check({ workload, containers }) {
    const hits: RuleHit[] = HOST_NAMESPACES.filter(({ field }) => workload.podSpec[field] === true).map(
      ({ field, what }) => ({
        message: `The pod sets ${field}: true and shares ${what}.`,
        path: `${workload.podSpecPath}.${field}`,
      }),
    );
    if (asRecord(podSecurityContextOf(workload).windowsOptions)?.hostProcess === true) {
      hits.push({
        message: 'The pod runs as a Windows HostProcess pod, with full access to the node.',
        path: `${workload.podSpecPath}.securityContext.windowsOptions.hostProcess`,
      });
    }
    for (const container of containers) {
      if (asRecord(securityContextOf(container).windowsOptions)?.hostProcess === true) {
        hits.push({
          message: `Container "${container.name}" runs as a Windows HostProcess container, with full access to the node.`,
          container: container.name,
          path: `${container.path}.securityContext.windowsOptions.hostProcess`,
        });
      }
    }
    return hits;
  },
};

/** Host paths whose mount is a known escape: the container runtime's socket, the node's root or config. */
const SENSITIVE_HOST_PATHS = [
  '/',
  '/etc',
  '/root',
  '/proc',
  '/sys',
  '/boot',
  '/dev',
  '/var/run',
  '/run',
  '/var/lib/kubelet',
  '/var/lib/rancher',
  '/var/run/docker.sock',
  '/run/containerd/containerd.sock',
  '/run/k3s/containerd/containerd.sock',
];

function normalizeHostPath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

const hostPath: Rule = {
  id: 'host-path',
  title: 'Pod mounts a host path',
  category: 'security',
  description:
    "A hostPath volume gives the pod a directory of the node's filesystem. Written to, it can change the node (kubelet config, container runtime socket, cron); read, it can leak other pods' data and node credentials. It also ties the pod to one node's disk. The Pod Security Standards Baseline level forbids hostPath volumes.",
  fix: 'Replace the hostPath volume with a PersistentVolumeClaim, an emptyDir, a ConfigMap or a projected volume; if a node agent truly needs it, mount it read-only and suppress the finding with a reason.',
  reads: ['volumes[].hostPath.path', 'containers[].volumeMounts[].name', 'containers[].volumeMounts[].readOnly'],
  severity: { nonProduction: 'high', production: 'high' },
  check({ workload, containers }) {
    return asArray(workload.podSpec.volumes).flatMap((value, index): RuleHit[] => {
      const volume = asRecord(value);
      const source = asRecord(volume?.hostPath);
      if (!volume || !source) return [];
      const name = typeof volume.name === 'string' ? volume.name : `#${index}`;
      const path = typeof source.path === 'string' ? source.path : '';
      const writers = containers
        .filter((container) =>
          asArray(container.spec.volumeMounts).some((mount) => {
            const fields = asRecord(mount);
            return fields?.name === name && fields.readOnly !== true;
          }),
        )
        .map((container) => container.name);
      const sensitive = SENSITIVE_HOST_PATHS.includes(normalizeHostPath(path)) ? ' (a sensitive node path)' : '';
      const access = writers.length > 0 ? `, writable by ${quote(writers)}` : '';
      return [
        {
          message: `Volume "${name}" mounts the node's ${path || 'filesystem'}${sensitive}${access}.`,
          path: `${workload.podSpecPath}.volumes[${index}].hostPath.path`,
          ...(writers.length === 1 && writers[0] !== undefined ? { container: writers[0] } : {}),
        },
      ];
    });
  },
};

const dangerousCapabilities: Rule = {
  id: 'dangerous-capabilities',
  title: 'Container adds dangerous capabilities',
  category: 'security',
  description:
    'Linux capabilities split root into pieces; some pieces (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE, ALL) are enough to escape the container or take over the node network. The Pod Security Standards Baseline level allows adding only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT.',
  fix: 'Remove the capability from `securityContext.capabilities.add`; drop ALL and add back only what the process needs, such as NET_BIND_SERVICE.',
  reads: [
    'containers[].securityContext.capabilities.add',
    'initContainers[].securityContext.capabilities.add',
    'ephemeralContainers[].securityContext.capabilities.add',
  ],
  severity: { nonProduction: 'high', production: 'high' },
  check({ containers }) {
    return containers.flatMap((container) =>
      addedCapabilities(container)
        .filter(({ name }) => !BASELINE_CAPABILITIES.has(name))
        .map(({ name, index }) => {
          const risk = CAPABILITY_RISKS[name];
          return {
            message: `Container "${container.name}" adds ${name}${risk ? `: ${risk}` : ', which the Baseline level does not allow'}.`,
            container: container.name,
            path: `${container.path}.securityContext.capabilities.add[${index}]`,
          };
        }),
    );
  },
};

/** Name fragments of credentials, compared without separators: `DB_PASSWORD`, `apiKey`, `AWS_SECRET_ACCESS_KEY`. */
const SECRET_NAME_PARTS = [
  'PASSWORD',
  'PASSWD',
  'PASSPHRASE',
  'SECRET',
  'TOKEN',
  'APIKEY',
  'PRIVATEKEY',
  'CREDENTIAL',
  'SIGNINGKEY',
  'ENCRYPTIONKEY',
  'ACCESSKEY',
];

/** Last words that make the variable about a credential rather than the credential itself. */
const NOT_A_SECRET_SUFFIXES = new Set([
  'FILE',
  'PATH',
  'DIR',
  'NAME',
  'REF',
  'ID',
  'URL',
  'URI',
  'ENDPOINT',
  'HEADER',
  'TTL',
  'TIMEOUT',
  'EXPIRY',
  'LENGTH',
  'TYPE',
  'ENABLED',
]);

/** Splits `dbPassword`, `DB_PASSWORD` and `db-password` into upper-case words. */
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
    .filter((word) => word !== '');
}

export function looksLikeSecretName(name: string): boolean {
  const words = nameWords(name);
  const last = words.at(-1);
  if (last === undefined || NOT_A_SECRET_SUFFIXES.has(last)) return false;
  const joined = words.join('');
  return SECRET_NAME_PARTS.some((part) => joined.includes(part));
}

/** Values that cannot be a credential: empty, a flag, or only `$(OTHER_VAR)` references. */
function isPlaceholderValue(value: string): boolean {
  const trimmed = value.trim();
  if (trimmed === '' || /^(true|false|yes|no|on|off|0|1)$/i.test(trimmed)) return true;
  return /^(\$\([A-Za-z_][A-Za-z0-9_.-]*\))+$/.test(trimmed);
}

const secretInEnv: Rule = {
  id: 'secret-in-env',
  title: 'Secret in a literal environment variable',
  category: 'security',
  description:
    'A password, token or key written as a literal `env[].value` sits in the manifest, in Git, in the Deployment object readable by anyone who can `get` it, and in every revision. A Secret referenced with `valueFrom.secretKeyRef` keeps it out of the manifest and lets it rotate. Niro never repeats the value in a finding.',
  fix: 'Move the value into a Secret and reference it with `env[].valueFrom.secretKeyRef` (or `envFrom.secretRef`).',
  reads: ['containers[].env[].name', 'containers[].env[].value', 'initContainers[].env', 'ephemeralContainers[].env'],
  severity: { nonProduction: 'medium', production: 'high' },
  check({ containers }) {
    return containers.flatMap((container) =>
      asArray(container.spec.env).flatMap((value, index): RuleHit[] => {
        const variable = asRecord(value);
        if (!variable || typeof variable.name !== 'string' || typeof variable.value !== 'string') return [];
        if (variable.valueFrom !== undefined || isPlaceholderValue(variable.value)) return [];
        if (!looksLikeSecretName(variable.name)) return [];
        return [
          {
            message: `Container "${container.name}" sets ${variable.name} from a literal value instead of a Secret.`,
            container: container.name,
            path: `${container.path}.env[${index}].value`,
          },
        ];
      }),
    );
  },
};

const writableRootFs: Rule = {
  id: 'writable-root-fs',
  title: 'Root filesystem is writable',
  category: 'security',
  description:
    "A writable root filesystem lets an attacker who gets code execution drop tools, change binaries or persist in the container, and lets a bug fill the node's disk through the container layer. No Pod Security Standards level requires a read-only root (Polaris and kube-linter warn), so it is medium in production. Ephemeral debug containers are not checked.",
  fix: 'Set `securityContext.readOnlyRootFilesystem: true` and mount an emptyDir where the process must write (for example /tmp).',
  reads: [
    'containers[].securityContext.readOnlyRootFilesystem',
    'initContainers[].securityContext.readOnlyRootFilesystem',
  ],
  severity: { nonProduction: 'low', production: 'medium' },
  check({ containers }) {
    return containers
      .filter((container) => container.list !== 'ephemeralContainers')
      .filter((container) => securityContextOf(container).readOnlyRootFilesystem !== true)
      .map((container) => ({
        message: `Container "${container.name}" can write to its root filesystem (readOnlyRootFilesystem is not true).`,
        container: container.name,
        path: `${container.path}.securityContext.readOnlyRootFilesystem`,
      }));
  },
};

function seccompType(context: Fields): unknown {
  return asRecord(context.seccompProfile)?.type;
}

function isConfinedSeccomp(type: unknown): boolean {
  return type === 'RuntimeDefault' || type === 'Localhost';
}

const BASELINE_VIOLATION = { nonProduction: 'high', production: 'high' } as const;

const noSeccomp: Rule = {
  id: 'no-seccomp',
  title: 'No seccomp profile',
  category: 'security',
  description:
    "Without a seccomp profile a container can call every system call of the node's kernel, including the rarely used ones most kernel exploits go through. The runtime's default profile (RuntimeDefault) blocks them and breaks almost nothing. The Pod Security Standards Restricted level requires RuntimeDefault or Localhost; Baseline forbids an explicit Unconfined, which Niro reports as high everywhere.",
  fix: 'Set `securityContext.seccompProfile.type: RuntimeDefault` on the pod (containers inherit it).',
  reads: [
    'securityContext.seccompProfile.type',
    'containers[].securityContext.seccompProfile.type',
    'initContainers[].securityContext.seccompProfile.type',
    'ephemeralContainers[].securityContext.seccompProfile.type',
  ],
  severity: { nonProduction: 'medium', production: 'high' },
  check({ workload, containers }) {
    const podType = seccompType(podSecurityContextOf(workload));
    const podPath = `${workload.podSpecPath}.securityContext.seccompProfile`;
    const hits: RuleHit[] = [];
    // Containers that inherit the pod's (missing or Unconfined) profile share one pod-level hit,
    // since the pod is where the fix goes.
    const inheriting: string[] = [];
    for (const container of containers) {
      const ownType = seccompType(securityContextOf(container));
      if (ownType === undefined) {
        if (!isConfinedSeccomp(podType)) inheriting.push(container.name);
        continue;
      }
      if (isConfinedSeccomp(ownType)) continue;
      hits.push({
        message: `Container "${container.name}" sets seccompProfile.type ${String(ownType)}: no system call is filtered.`,
        container: container.name,
        path: `${container.path}.securityContext.seccompProfile.type`,
        ...(ownType === 'Unconfined' ? { severity: BASELINE_VIOLATION } : {}),
      });
    }
    if (inheriting.length > 0) {
      const single = inheriting.length === 1 && inheriting[0] !== undefined ? { container: inheriting[0] } : {};
      if (podType === undefined) {
        hits.unshift({
          message: `No seccomp profile is set for ${inheriting.length === 1 ? 'container' : 'containers'} ${quote(inheriting)} (pod or container level).`,
          path: podPath,
          ...single,
        });
      } else {
        hits.unshift({
          message: `The pod sets seccompProfile.type ${String(podType)}, inherited by ${quote(inheriting)}: no system call is filtered.`,
          path: `${podPath}.type`,
          ...single,
          ...(podType === 'Unconfined' ? { severity: BASELINE_VIOLATION } : {}),
        });
      }
    }
    return hits;
  },
};

/** `policyTypes` defaults to Ingress, plus Egress when the policy has egress rules. */
function policyTypes(policy: KubeObject): string[] {
  const spec = asRecord(policy.spec) ?? {};
  const declared = asArray(spec.policyTypes).filter((value): value is string => typeof value === 'string');
  if (declared.length > 0) return declared;
  return spec.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress'];
}

/** Where the pod labels sit: `spec.template.metadata.labels`, or `metadata.labels` for a Pod. */
function podLabelsPath(workload: Workload): string {
  return workload.podSpecPath === 'spec' ? 'metadata.labels' : workload.podSpecPath.replace(/spec$/, 'metadata.labels');
}

function namespaceOf(workload: Workload): string {
  return workload.ref.namespace ?? 'default';
}

function hasAnyOfKind(related: RelatedObjects, kind: string): boolean {
  return related.all.some((object) => object.kind === kind);
}

const noNetworkPolicy: Rule = {
  id: 'no-network-policy',
  title: 'Pod not isolated by a NetworkPolicy',
  category: 'security',
  description:
    "Pods accept traffic from every other pod in the cluster until a NetworkPolicy selects them, so one compromised pod can reach every database and admin port. A NetworkPolicy whose podSelector matches the pod's labels (an empty selector matches all pods in its namespace) and that covers Ingress isolates it. In a manifest set that is not the whole namespace and contains no NetworkPolicy at all, the policy may live elsewhere, so the finding is only info (low in production).",
  fix: "Add a NetworkPolicy in the workload's namespace that selects its pods and allows only the traffic it needs (a default-deny policy with an empty podSelector is a good start).",
  reads: [
    'metadata.namespace',
    'template.metadata.labels',
    'NetworkPolicy spec.podSelector',
    'NetworkPolicy spec.policyTypes',
  ],
  severity: { nonProduction: 'low', production: 'medium' },
  needs: ['NetworkPolicy'],
  check({ workload, related }) {
    const namespace = namespaceOf(workload);
    const selecting = related
      .inNamespace('NetworkPolicy', namespace)
      .filter((policy) => selectorMatches(asRecord(policy.spec)?.podSelector, workload.podLabels));
    if (selecting.some((policy) => policyTypes(policy).includes('Ingress'))) return [];
    const path = podLabelsPath(workload);
    if (selecting.length > 0) {
      return [
        {
          message: `Only egress NetworkPolicies (${quote(selecting.map((policy) => policy.metadata.name))}) select the pods; ingress from any pod is allowed.`,
          path,
        },
      ];
    }
    if (!related.complete && !hasAnyOfKind(related, 'NetworkPolicy')) {
      return [
        {
          message: `No NetworkPolicy in this manifest set selects the pods; check that one exists in namespace "${namespace}".`,
          path,
          severity: { nonProduction: 'info', production: 'low' },
        },
      ];
    }
    return [{ message: `No NetworkPolicy in namespace "${namespace}" selects the pods.`, path }];
  },
};

/** The ServiceAccount object the pod runs as, when the related objects include it. */
export function serviceAccountOf(workload: Workload, related: RelatedObjects): KubeObject | undefined {
  const name = serviceAccountName(workload);
  return related.inNamespace('ServiceAccount', namespaceOf(workload)).find((account) => account.metadata.name === name);
}

export function serviceAccountName(workload: Workload): string {
  const { serviceAccountName: name, serviceAccount: legacyName } = workload.podSpec;
  if (typeof name === 'string' && name !== '') return name;
  return typeof legacyName === 'string' && legacyName !== '' ? legacyName : 'default';
}

const defaultServiceAccount: Rule = {
  id: 'default-service-account',
  title: 'Pod uses the default ServiceAccount',
  category: 'security',
  description:
    "Every pod that names no ServiceAccount runs as the namespace's `default` one, with its API token mounted: any role bound to `default` for one workload is granted to all of them, and a compromised container can call the Kubernetes API with that token. A dedicated ServiceAccount per workload, or no token at all, keeps permissions separate.",
  fix: 'Create a ServiceAccount for the workload and set `serviceAccountName`, or set `automountServiceAccountToken: false` if it does not call the Kubernetes API.',
  reads: [
    'serviceAccountName',
    'serviceAccount',
    'automountServiceAccountToken',
    'ServiceAccount automountServiceAccountToken',
  ],
  severity: { nonProduction: 'low', production: 'medium' },
  needs: ['ServiceAccount'],
  check({ workload, related }) {
    if (serviceAccountName(workload) !== 'default') return [];
    const automount = workload.podSpec.automountServiceAccountToken;
    if (automount === false) return [];
    // The pod's own setting wins over the ServiceAccount's.
    if (automount === undefined && serviceAccountOf(workload, related)?.automountServiceAccountToken === false)
      return [];
    return [
      {
        message: 'The pod runs as the default ServiceAccount with its API token mounted.',
        path: `${workload.podSpecPath}.serviceAccountName`,
      },
    ];
  },
};

export const SECURITY_RULES: Rule[] = [
  privilegedContainer,
  privilegeEscalation,
  runAsRoot,
  hostNamespaces,
  hostPath,
  dangerousCapabilities,
  secretInEnv,
  writableRootFs,
  noSeccomp,
  noNetworkPolicy,
  defaultServiceAccount,
];
