import { ClusterIdParams, ClusterUsage, PodUsage, UsageQuery } from '@niro/protocol';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { requirePrincipal, SIGNED_IN } from '../auth/principal.js';

/** Kubernetes names: a namespace is a DNS label, a pod name a DNS subdomain. */
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const PodUsageParams = Type.Object({
  ...ClusterIdParams.properties,
  namespace: Type.String({ minLength: 1, maxLength: 63, pattern: DNS_LABEL, description: 'A Kubernetes namespace' }),
  pod: Type.String({ minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN, description: 'A pod name' }),
});

const TAGS = ['clusters'];

export function registerUsageRoutes(app: App, services: Services): void {
  const { usage, orgs } = services;

  app.get(
    '/api/v1/clusters/:id/usage',
    {
      schema: {
        tags: TAGS,
        summary: "A cluster's CPU, memory and running pods over the last hour or day",
        description:
          '`range=1h` (default): one point per heartbeat; `range=24h`: 5-minute averages. Oldest first. ' +
          'CPU and memory are null where the agent reported no usage (no metrics-server).',
        security: SIGNED_IN,
        params: ClusterIdParams,
        querystring: UsageQuery,
        response: { 200: ClusterUsage },
      },
    },
    async (req) => {
      const scope = await orgs.scopeFor(requirePrincipal(req).userId);
      return usage.clusterUsage(scope, req.params.id, req.query.range ?? '1h');
    },
  );

  app.get(
    '/api/v1/clusters/:id/pods/:namespace/:pod/usage',
    {
      schema: {
        tags: TAGS,
        summary: "A pod's CPU and memory over the last hour or day",
        description:
          '`range=1h` (default): one point per minute at most; `range=24h`: 5-minute averages. Empty when ' +
          'nothing was recorded for the pod (its agent sends no pod usage, or the name is unknown).',
        security: SIGNED_IN,
        params: PodUsageParams,
        querystring: UsageQuery,
        response: { 200: PodUsage },
      },
    },
    async (req) => {
      const scope = await orgs.scopeFor(requirePrincipal(req).userId);
      const { id, namespace, pod } = req.params;
      return usage.podUsage(scope, id, namespace, pod, req.query.range ?? '1h');
    },
  );
}
