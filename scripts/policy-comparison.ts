/**
 * The hand-written part of docs/policy.md: what Polaris, kube-score and kube-linter say about a few
 * public, widely used manifests, next to what Niro says. scripts/policy-docs.ts renders it; the
 * "Niro" column is checked against the engine by apps/cli/src/policy-docs.test.ts, so it stays
 * honest when rules change.
 */
import type { Environment, Severity } from '@niro/policy';

export const COMPARISON_ENVIRONMENT: Environment = 'production';

/** Relative to the repository root. */
export const COMPARISON_FIXTURE_DIR = 'apps/cli/test-fixtures/policy/comparison';

export type ComparisonRow = {
  /** Our rule id, or undefined for a check only the other tools make. */
  rule?: string;
  /** What the check is about when there is no rule of ours. */
  check: string;
  /** `Kind name` or `Kind namespace/name`, as `niro lint` prints them. */
  objects: string[];
  /** The highest severity Niro reports for this rule and each of the objects, null when it reports nothing. */
  niro: Severity | null;
  polaris: string;
  kubeScore: string;
  kubeLinter: string;
  why: string;
};

export type ComparisonManifest = { fixture: string; title: string; source: string; rows: ComparisonRow[] };

export const COMPARISON_INTRO = `
For a few public manifests that many people start from, the tables list every finding Niro
reports (environment \`${COMPARISON_ENVIRONMENT}\`) and whether Polaris, kube-score and kube-linter
report the same thing, plus checks of theirs that we do not make. The other tools' columns come
from their documented checks and default configurations (mapped in the policy catalogue), not
from running them: a check name means the tool reports it by default, "(opt-in)" that it has the
check but it is off by default, and "–" that it has no such check. The manifests are
representative copies written from memory of their well-known shapes, not byte-for-byte copies
of the upstream files. A test runs our engine on them and fails when the Niro column no longer
matches what it reports.
`;

export const COMPARISON_NOTES = `
### Why ours differ, in general

- **Environments.** The other tools have one severity per check. Ours depend on where the
  workload runs: a single replica is \`info\` in \`dev\` and \`high\` in \`production\`, so a CI
  job for a dev overlay is not blocked by what only matters in production.
- **Fewer, blunter resource checks.** We ask for CPU and memory requests and a memory limit; a
  missing CPU limit is at most \`info\`, because CPU limits throttle and most guidance now
  advises against them. Polaris (\`cpuLimitsMissing\`) and kube-score (\`container-resources\`)
  flag it as a warning or worse.
- **Pull policy.** kube-score and Polaris want \`imagePullPolicy: Always\`; we do not, because
  edge clusters on poor links are better served by pinned tags or digests with \`IfNotPresent\`.
  We flag the mutable tag instead.
- **Related objects.** Checks that need a second object (PodDisruptionBudget, NetworkPolicy,
  HorizontalPodAutoscaler, Service, ServiceAccount) judge a cluster's inventory as the whole
  namespace, but a manifest set only by what it contains: when a set has no PodDisruptionBudget
  or NetworkPolicy at all, the finding drops to \`info\` (\`low\` in production), since the
  object may be managed elsewhere; a Service selector is only checked against workloads of its
  namespace that are in the set.
- **Identity thresholds.** kube-score wants UID and GID above 10000; we follow the Pod Security
  Standards (restricted): \`runAsNonRoot\` or a non-zero UID is enough.
`;

const NOT_SET =
  'Kubernetes allows escalation unless it is set to false, so we (like Polaris and the Restricted level) report it unset; kube-linter only reports an explicit `true`.';
const SECCOMP =
  'The Restricted level requires RuntimeDefault and it breaks almost nothing, so we report it by default; kube-score has the check only as opt-in.';
const CPU_LIMIT = 'Same for the memory limit; the missing CPU limit is only `info` for us (CPU limits throttle).';
const NETPOL =
  'The set holds no NetworkPolicy at all, which may live elsewhere, so we say `low`; on a cluster inventory it is `medium`.';
const SA = 'Same ground; kube-linter has it as opt-in.';
const SINGLE =
  '`high` only in production (`info` in dev); a HorizontalPodAutoscaler would silence it. kube-linter wants three replicas, opt-in.';

export const COMPARISON_MANIFESTS: ComparisonManifest[] = [
  {
    fixture: 'nginx-deployment.yaml',
    title: 'The nginx Deployment of the Kubernetes documentation',
    source:
      'The `nginx-deployment` example of the Deployments concept page: three replicas of `nginx:1.14.2` and nothing else.',
    rows: [
      {
        rule: 'missing-probes',
        check: 'probes',
        objects: ['Deployment nginx-deployment'],
        niro: 'medium',
        polaris: 'readinessProbeMissing, livenessProbeMissing',
        kubeScore: '– (pod-probes only for pods a Service targets)',
        kubeLinter: 'no-readiness-probe, no-liveness-probe (opt-in)',
        why: 'A rollout waits for ready pods whether or not a Service exists, so we do not wait for one.',
      },
      {
        rule: 'missing-requests',
        check: 'requests',
        objects: ['Deployment nginx-deployment'],
        niro: 'medium',
        polaris: 'cpuRequestsMissing, memoryRequestsMissing',
        kubeScore: 'container-resources',
        kubeLinter: 'unset-cpu-requirements (CPU only)',
        why: 'Same ground.',
      },
      {
        rule: 'missing-limits',
        check: 'limits',
        objects: ['Deployment nginx-deployment'],
        niro: 'medium',
        polaris: 'memoryLimitsMissing, cpuLimitsMissing',
        kubeScore: 'container-resources',
        kubeLinter: 'unset-memory-requirements',
        why: CPU_LIMIT,
      },
      {
        rule: 'privilege-escalation',
        check: 'privilege escalation',
        objects: ['Deployment nginx-deployment'],
        niro: 'high',
        polaris: 'privilegeEscalationAllowed',
        kubeScore: '–',
        kubeLinter: '– (only an explicit `true`)',
        why: NOT_SET,
      },
      {
        rule: 'run-as-root',
        check: 'root user',
        objects: ['Deployment nginx-deployment'],
        niro: 'high',
        polaris: 'runAsRootAllowed',
        kubeScore: 'container-security-context-user-group-id',
        kubeLinter: 'run-as-non-root',
        why: 'Same ground (kube-score also wants UID and GID above 10000).',
      },
      {
        rule: 'writable-root-fs',
        check: 'read-only root filesystem',
        objects: ['Deployment nginx-deployment'],
        niro: 'medium',
        polaris: 'notReadOnlyRootFilesystem',
        kubeScore: 'container-security-context-readonlyrootfilesystem',
        kubeLinter: 'no-read-only-root-fs',
        why: 'Same ground; `medium` because no Pod Security Standards level requires it.',
      },
      {
        rule: 'no-seccomp',
        check: 'seccomp',
        objects: ['Deployment nginx-deployment'],
        niro: 'high',
        polaris: 'linuxHardening',
        kubeScore: 'container-seccomp-profile (opt-in)',
        kubeLinter: '–',
        why: SECCOMP,
      },
      {
        rule: 'no-network-policy',
        check: 'NetworkPolicy',
        objects: ['Deployment nginx-deployment'],
        niro: 'low',
        polaris: 'missingNetworkPolicy',
        kubeScore: 'pod-networkpolicy',
        kubeLinter: 'non-isolated-pod (opt-in)',
        why: NETPOL,
      },
      {
        rule: 'default-service-account',
        check: 'ServiceAccount',
        objects: ['Deployment nginx-deployment'],
        niro: 'medium',
        polaris: 'automountServiceAccountToken',
        kubeScore: '–',
        kubeLinter: 'default-service-account (opt-in)',
        why: SA,
      },
      {
        rule: 'missing-pdb',
        check: 'PodDisruptionBudget',
        objects: ['Deployment nginx-deployment'],
        niro: 'low',
        polaris: 'missingPodDisruptionBudget',
        kubeScore: 'deployment-has-poddisruptionbudget',
        kubeLinter: '–',
        why: 'Three replicas and no PodDisruptionBudget in the set, which may live elsewhere: `low`; on a cluster inventory it is `medium`.',
      },
      {
        check: 'pull policy `Always`',
        objects: ['Deployment nginx-deployment'],
        niro: null,
        polaris: 'pullPolicyNotAlways',
        kubeScore: 'container-image-pull-policy',
        kubeLinter: '–',
        why: 'Not a rule of ours: on edge links `IfNotPresent` with a pinned tag or digest is the better advice; we flag mutable tags instead.',
      },
      {
        check: 'drop ALL / NET_RAW capabilities',
        objects: ['Deployment nginx-deployment'],
        niro: null,
        polaris: 'insecureCapabilities',
        kubeScore: '–',
        kubeLinter: 'drop-net-raw-capability',
        why: 'Not in our catalogue yet: we report capabilities that are added beyond the Baseline set, not the default ones left in place. A known gap.',
      },
      {
        check: 'anti-affinity / topology spread',
        objects: ['Deployment nginx-deployment'],
        niro: null,
        polaris: 'topologySpreadConstraint',
        kubeScore: 'deployment-has-host-podantiaffinity',
        kubeLinter: 'no-anti-affinity',
        why: 'Not in our catalogue: on clusters of one to three nodes it is often impossible, and it can only be judged against the nodes a cluster has.',
      },
      {
        check: 'ephemeral-storage request and limit',
        objects: ['Deployment nginx-deployment'],
        niro: null,
        polaris: '–',
        kubeScore: 'container-ephemeral-storage-request-and-limit',
        kubeLinter: '–',
        why: 'Not in our catalogue yet (it matters on small k3s disks).',
      },
    ],
  },
  {
    fixture: 'guestbook.yaml',
    title: 'The guestbook of the Kubernetes documentation',
    source:
      'The Redis leader (one replica, with requests) and the PHP frontend (three replicas) of the guestbook tutorial, each with its Service.',
    rows: [
      {
        rule: 'single-replica',
        check: 'replicas',
        objects: ['Deployment redis-leader'],
        niro: 'high',
        polaris: 'deploymentMissingReplicas',
        kubeScore: 'deployment-replicas',
        kubeLinter: 'minimum-three-replicas (opt-in)',
        why: SINGLE,
      },
      {
        rule: 'private-image-no-credential',
        check: 'pull credentials',
        objects: ['Deployment frontend'],
        niro: 'high',
        polaris: '–',
        kubeScore: '–',
        kubeLinter: '–',
        why: 'Ours only, and a false positive here: `us-docker.pkg.dev/google-samples` is public, and a manifest cannot say so. Suppress it for public images (`--suppress private-image-no-credential:Deployment/frontend`); on private registries it catches an ImagePullBackOff before it happens.',
      },
      {
        rule: 'missing-probes',
        check: 'probes',
        objects: ['Deployment redis-leader', 'Deployment frontend'],
        niro: 'medium',
        polaris: 'readinessProbeMissing, livenessProbeMissing',
        kubeScore: 'pod-probes (a Service targets both)',
        kubeLinter: 'no-readiness-probe, no-liveness-probe (opt-in)',
        why: 'Same ground.',
      },
      {
        rule: 'missing-limits',
        check: 'limits',
        objects: ['Deployment redis-leader', 'Deployment frontend'],
        niro: 'medium',
        polaris: 'memoryLimitsMissing, cpuLimitsMissing',
        kubeScore: 'container-resources',
        kubeLinter: 'unset-memory-requirements',
        why: CPU_LIMIT,
      },
      {
        rule: 'privilege-escalation',
        check: 'privilege escalation',
        objects: ['Deployment redis-leader', 'Deployment frontend'],
        niro: 'high',
        polaris: 'privilegeEscalationAllowed',
        kubeScore: '–',
        kubeLinter: '– (only an explicit `true`)',
        why: NOT_SET,
      },
      {
        rule: 'run-as-root',
        check: 'root user',
        objects: ['Deployment redis-leader', 'Deployment frontend'],
        niro: 'high',
        polaris: 'runAsRootAllowed',
        kubeScore: 'container-security-context-user-group-id',
        kubeLinter: 'run-as-non-root',
        why: 'Same ground.',
      },
      {
        rule: 'writable-root-fs',
        check: 'read-only root filesystem',
        objects: ['Deployment redis-leader', 'Deployment frontend'],
        niro: 'medium',
        polaris: 'notReadOnlyRootFilesystem',
        kubeScore: 'container-security-context-readonlyrootfilesystem',
        kubeLinter: 'no-read-only-root-fs',
        why: 'Same ground.',
      },
      {
        rule: 'no-seccomp',
        check: 'seccomp',
        objects: ['Deployment redis-leader', 'Deployment frontend'],
        niro: 'high',
        polaris: 'linuxHardening',
        kubeScore: 'container-seccomp-profile (opt-in)',
        kubeLinter: '–',
        why: SECCOMP,
      },
      {
        rule: 'no-network-policy',
        check: 'NetworkPolicy',
        objects: ['Deployment redis-leader', 'Deployment frontend'],
        niro: 'low',
        polaris: 'missingNetworkPolicy',
        kubeScore: 'pod-networkpolicy',
        kubeLinter: 'non-isolated-pod (opt-in)',
        why: NETPOL,
      },
      {
        rule: 'default-service-account',
        check: 'ServiceAccount',
        objects: ['Deployment redis-leader', 'Deployment frontend'],
        niro: 'medium',
        polaris: 'automountServiceAccountToken',
        kubeScore: '–',
        kubeLinter: 'default-service-account (opt-in)',
        why: SA,
      },
      {
        rule: 'missing-pdb',
        check: 'PodDisruptionBudget',
        objects: ['Deployment frontend'],
        niro: 'low',
        polaris: 'missingPodDisruptionBudget',
        kubeScore: 'deployment-has-poddisruptionbudget',
        kubeLinter: '–',
        why: 'Only the three-replica frontend needs one; `low` because the set holds no PodDisruptionBudget at all.',
      },
      {
        rule: 'selector-mismatch',
        check: 'Service selector',
        objects: ['Service redis-leader', 'Service frontend'],
        niro: null,
        polaris: '–',
        kubeScore: 'service-targets-pod',
        kubeLinter: 'dangling-service',
        why: 'Both selectors match their pods, so nobody reports them.',
      },
    ],
  },
  {
    fixture: 'ingress-nginx-controller.yaml',
    title: 'The ingress-nginx controller',
    source:
      'The controller Deployment of the static ingress-nginx manifest: digest-pinned image, both probes on port 10254, `allowPrivilegeEscalation: true` with `NET_BIND_SERVICE`, UID 101, requests without limits.',
    rows: [
      {
        rule: 'single-replica',
        check: 'replicas',
        objects: ['Deployment ingress-nginx/ingress-nginx-controller'],
        niro: 'high',
        polaris: 'deploymentMissingReplicas',
        kubeScore: 'deployment-replicas',
        kubeLinter: 'minimum-three-replicas (opt-in)',
        why: 'No `replicas` means one. ' + SINGLE,
      },
      {
        rule: 'privilege-escalation',
        check: 'privilege escalation',
        objects: ['Deployment ingress-nginx/ingress-nginx-controller'],
        niro: 'high',
        polaris: 'privilegeEscalationAllowed',
        kubeScore: '–',
        kubeLinter: 'privilege-escalation-container',
        why: 'Everyone agrees on an explicit `true` (this version needs it to bind ports 80 and 443 as UID 101).',
      },
      {
        rule: 'no-seccomp',
        check: 'seccomp',
        objects: ['Deployment ingress-nginx/ingress-nginx-controller'],
        niro: 'high',
        polaris: 'linuxHardening',
        kubeScore: 'container-seccomp-profile (opt-in)',
        kubeLinter: '–',
        why: SECCOMP,
      },
      {
        rule: 'probe-port-mismatch',
        check: 'probe port',
        objects: ['Deployment ingress-nginx/ingress-nginx-controller'],
        niro: 'medium',
        polaris: '–',
        kubeScore: '–',
        kubeLinter: 'liveness-port, readiness-port',
        why: 'Port 10254 serves /healthz but is not among the declared ports (80, 443, 8443). The kubelet probes the pod IP, so the probes work: a false positive for kube-linter and for us, silenced by declaring the port.',
      },
      {
        rule: 'missing-limits',
        check: 'limits',
        objects: ['Deployment ingress-nginx/ingress-nginx-controller'],
        niro: 'medium',
        polaris: 'memoryLimitsMissing, cpuLimitsMissing',
        kubeScore: 'container-resources',
        kubeLinter: 'unset-memory-requirements',
        why: CPU_LIMIT,
      },
      {
        rule: 'writable-root-fs',
        check: 'read-only root filesystem',
        objects: ['Deployment ingress-nginx/ingress-nginx-controller'],
        niro: 'medium',
        polaris: 'notReadOnlyRootFilesystem',
        kubeScore: 'container-security-context-readonlyrootfilesystem',
        kubeLinter: 'no-read-only-root-fs',
        why: 'Same ground.',
      },
      {
        rule: 'no-network-policy',
        check: 'NetworkPolicy',
        objects: ['Deployment ingress-nginx/ingress-nginx-controller'],
        niro: 'low',
        polaris: 'missingNetworkPolicy',
        kubeScore: 'pod-networkpolicy',
        kubeLinter: 'non-isolated-pod (opt-in)',
        why: NETPOL,
      },
      {
        rule: 'run-as-root',
        check: 'root user',
        objects: ['Deployment ingress-nginx/ingress-nginx-controller'],
        niro: null,
        polaris: '–',
        kubeScore: 'container-security-context-user-group-id',
        kubeLinter: '–',
        why: 'UID 101 is not root, which is what the Pod Security Standards ask; kube-score also wants UID and GID above 10000.',
      },
      {
        rule: 'dangerous-capabilities',
        check: 'added capabilities',
        objects: ['Deployment ingress-nginx/ingress-nginx-controller'],
        niro: null,
        polaris: '–',
        kubeScore: '–',
        kubeLinter: '–',
        why: '`NET_BIND_SERVICE` is allowed by the Baseline level, and ALL is dropped.',
      },
    ],
  },
  {
    fixture: 'cert-manager.yaml',
    title: 'The cert-manager controller',
    source:
      'The controller Deployment of the static cert-manager manifest: one replica, non-root pod with RuntimeDefault seccomp, escalation off and ALL dropped, a liveness probe and no readiness probe, no resources.',
    rows: [
      {
        rule: 'single-replica',
        check: 'replicas',
        objects: ['Deployment cert-manager/cert-manager'],
        niro: 'high',
        polaris: 'deploymentMissingReplicas',
        kubeScore: 'deployment-replicas',
        kubeLinter: 'minimum-three-replicas (opt-in)',
        why:
          'A leader-elected controller gains little from a second replica; suppress it with a reason if one pod is what you want. ' +
          SINGLE,
      },
      {
        rule: 'missing-probes',
        check: 'readiness probe',
        objects: ['Deployment cert-manager/cert-manager'],
        niro: 'medium',
        polaris: 'readinessProbeMissing',
        kubeScore: '– (no Service targets it)',
        kubeLinter: 'no-readiness-probe (opt-in)',
        why: 'Arguably a false positive for a controller that takes no traffic; kube-score skips it because no Service targets the pods, which we do not know from a manifest alone.',
      },
      {
        rule: 'missing-requests',
        check: 'requests',
        objects: ['Deployment cert-manager/cert-manager'],
        niro: 'medium',
        polaris: 'cpuRequestsMissing, memoryRequestsMissing',
        kubeScore: 'container-resources',
        kubeLinter: 'unset-cpu-requirements (CPU only)',
        why: 'Same ground.',
      },
      {
        rule: 'missing-limits',
        check: 'limits',
        objects: ['Deployment cert-manager/cert-manager'],
        niro: 'medium',
        polaris: 'memoryLimitsMissing, cpuLimitsMissing',
        kubeScore: 'container-resources',
        kubeLinter: 'unset-memory-requirements',
        why: CPU_LIMIT,
      },
      {
        rule: 'writable-root-fs',
        check: 'read-only root filesystem',
        objects: ['Deployment cert-manager/cert-manager'],
        niro: 'medium',
        polaris: 'notReadOnlyRootFilesystem',
        kubeScore: 'container-security-context-readonlyrootfilesystem',
        kubeLinter: 'no-read-only-root-fs',
        why: 'Same ground.',
      },
      {
        rule: 'no-network-policy',
        check: 'NetworkPolicy',
        objects: ['Deployment cert-manager/cert-manager'],
        niro: 'low',
        polaris: 'missingNetworkPolicy',
        kubeScore: 'pod-networkpolicy',
        kubeLinter: 'non-isolated-pod (opt-in)',
        why: NETPOL,
      },
      {
        rule: 'private-image-no-credential',
        check: 'pull credentials',
        objects: ['Deployment cert-manager/cert-manager'],
        niro: 'low',
        polaris: '–',
        kubeScore: '–',
        kubeLinter: '–',
        why: 'Ours only: quay.io is on our list of usually private registries, but `quay.io/jetstack` is public. The pod names a ServiceAccount that is not in the excerpt and may carry credentials, so it is only `low`.',
      },
      {
        rule: 'run-as-root',
        check: 'root user',
        objects: ['Deployment cert-manager/cert-manager'],
        niro: null,
        polaris: '–',
        kubeScore: 'container-security-context-user-group-id',
        kubeLinter: '–',
        why: '`runAsNonRoot: true` on the pod is enough for us and the Pod Security Standards; kube-score wants explicit UID and GID above 10000.',
      },
    ],
  },
];
