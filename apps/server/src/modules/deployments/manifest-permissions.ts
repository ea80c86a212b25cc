import type { KubeObject } from '@niro/policy';
import type { PolicyFinding } from '@niro/protocol';

/**
 * Kinds that change who may do what in the cluster, or how its API behaves, rather than run a
 * workload in one namespace. The agent applies them with its own broad rights, so the control
 * plane decides who may ask: admins of the cluster's organization, not members.
 */
const ADMIN_KINDS = new Set([
  'APIService',
  'CertificateSigningRequest',
  'ClusterRole',
  'ClusterRoleBinding',
  'CSIDriver',
  'CustomResourceDefinition',
  'FlowSchema',
  'IngressClass',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionPolicyBinding',
  'MutatingWebhookConfiguration',
  'Node',
  'PersistentVolume',
  'PriorityClass',
  'PriorityLevelConfiguration',
  'Role',
  'RoleBinding',
  'RuntimeClass',
  'StorageClass',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'ValidatingWebhookConfiguration',
]);

/** Findings of pods that reach past their container onto the node: admins only, like the kinds above. */
const ADMIN_RULES = new Set(['privileged-container', 'host-namespaces', 'host-path', 'dangerous-capabilities']);

/**
 * What in a manifest set needs the admin role (an empty list: members may apply it). A Namespace
 * is allowed when it is the deployment's own.
 */
export function adminOnlyReasons(
  objects: readonly KubeObject[],
  findings: readonly PolicyFinding[],
  namespace: string,
): string[] {
  const reasons: string[] = [];
  for (const object of objects) {
    if (ADMIN_KINDS.has(object.kind)) reasons.push(`${object.kind}/${object.metadata.name}`);
    else if (object.kind === 'Namespace' && object.metadata.name !== namespace) {
      reasons.push(`Namespace/${object.metadata.name} (not the deployment's namespace)`);
    }
  }
  for (const finding of findings) {
    if (!ADMIN_RULES.has(finding.ruleId)) continue;
    const reason = `${finding.object.kind}/${finding.object.name}: ${finding.title.toLowerCase()}`;
    if (!reasons.includes(reason)) reasons.push(reason);
  }
  return reasons;
}
