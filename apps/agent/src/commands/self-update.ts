import { AGENT_NAME } from '@niro/protocol/agent-install';
import { isRecord, stringField } from '../kube/kube-object.js';
import type { KubeApi } from '../kube/types.js';
import { failure, type Outcome } from './results.js';

/** The container of the agent's Deployment as the install manifest names it. */
const AGENT_CONTAINER = 'agent';
const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

/**
 * Sets the image of the agent's own Deployment (`<namespace>/niro-agent`); Kubernetes then rolls
 * out the new agent, which replaces this one once it is ready.
 */
export async function selfUpdate(api: KubeApi, namespace: string, image: string): Promise<Outcome> {
  const path = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${AGENT_NAME}`;
  const deployment = await api.request('GET', path);
  const container = agentContainer(deployment);
  if (container === undefined) {
    return {
      status: 'failed',
      error: failure('agent_container_not_found', `Deployment ${namespace}/${AGENT_NAME} has no container to update`),
    };
  }
  const previousImage = container.image;
  if (previousImage === image) return { status: 'succeeded', data: { image, previousImage, changed: false } };
  await api.request('PATCH', path, {
    body: { spec: { template: { spec: { containers: [{ name: container.name, image }] } } } },
    contentType: STRATEGIC_MERGE_PATCH,
  });
  return { status: 'succeeded', data: { image, previousImage, changed: true } };
}

/** The container named "agent", or the only container when there is just one. */
function agentContainer(deployment: unknown): { name: string; image: string | undefined } | undefined {
  const spec = isRecord(deployment) ? deployment.spec : undefined;
  const template = isRecord(spec) ? spec.template : undefined;
  const podSpec = isRecord(template) ? template.spec : undefined;
  const containers = isRecord(podSpec) && Array.isArray(podSpec.containers) ? podSpec.containers : [];
  const named = containers.find((c) => stringField(c, 'name') === AGENT_CONTAINER);
  const chosen: unknown = named ?? (containers.length === 1 ? containers[0] : undefined);
  const name = stringField(chosen, 'name');
  return name === undefined ? undefined : { name, image: stringField(chosen, 'image') };
}
