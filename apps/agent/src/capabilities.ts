import type { Capabilities } from '@niro/protocol';
import { CAPABILITY_GRANTS, CAPABILITY_NAMES, type AccessProbe } from '@niro/protocol/agent-install';
import type { KubeApi } from './kube/types.js';
import { bool } from './inventory/raw.js';

async function allowed(api: KubeApi, probe: AccessProbe): Promise<boolean> {
  const reply = await api.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: probe },
    },
  });
  return bool(reply, 'status', 'allowed') === true;
}

/**
 * What the agent may do, asked of the API server itself (SelfSubjectAccessReview) rather than
 * trusted from configuration: a capability is on when its RBAC is really granted (DESIGN 4.4).
 */
export async function detectCapabilities(api: KubeApi): Promise<Capabilities> {
  const results = await Promise.all(
    CAPABILITY_NAMES.map(async (name) => {
      const answers = await Promise.all(CAPABILITY_GRANTS[name].probes.map((p) => allowed(api, p)));
      return [name, answers.every(Boolean)] as const;
    }),
  );
  const caps: Capabilities = { pods: false, logs: false, apply: false, selfUpdate: false };
  for (const [name, on] of results) caps[name] = on;
  return caps;
}
