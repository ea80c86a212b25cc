import type { Container, Rule, RuleHit } from '../types.js';
import { isRecord } from '../workloads.js';

/**
 * Efficiency rules: what the scheduler and the kernel need to share a small node fairly. Every
 * container that runs gets checked, init containers too (they are scheduled with their requests);
 * ephemeral debug containers cannot declare resources and are skipped.
 */

type Fields = Record<string, unknown>;

function asRecord(value: unknown): Fields | undefined {
  return isRecord(value) ? value : undefined;
}

const RESOURCES = [
  { key: 'cpu', label: 'CPU' },
  { key: 'memory', label: 'memory' },
] as const;

function isSet(value: unknown): boolean {
  return (typeof value === 'string' && value.trim() !== '') || typeof value === 'number';
}

function resourcesOf(container: Container): { requests: Fields; limits: Fields } {
  const resources = asRecord(container.spec.resources) ?? {};
  return { requests: asRecord(resources.requests) ?? {}, limits: asRecord(resources.limits) ?? {} };
}

function describeContainer(container: Container): string {
  if (container.list !== 'initContainers') return `container ${container.name}`;
  return container.longRunning ? `sidecar init container ${container.name}` : `init container ${container.name}`;
}

function checkedContainers(containers: readonly Container[]): Container[] {
  return containers.filter((container) => container.list !== 'ephemeralContainers');
}

const missingRequests: Rule = {
  id: 'missing-requests',
  title: 'Missing CPU or memory request',
  category: 'efficiency',
  description:
    'The scheduler places pods by their requests. A container without a memory request can land on a node that has no room for it and is the first to be evicted under memory pressure; one without a CPU request gets almost no CPU when the node is busy. On clusters of a few small nodes one such pod can starve the others. Init containers are checked too: the pod is scheduled with the largest of their requests. A limit without a request counts as a request, because Kubernetes then sets the request to the limit.',
  fix: 'Set `resources.requests.cpu` and `resources.requests.memory` on every container, from what it uses under normal load (the agent reports actual usage).',
  reads: [
    'containers[].resources.requests.cpu',
    'containers[].resources.requests.memory',
    'containers[].resources.limits',
    'initContainers[].resources',
  ],
  severity: { nonProduction: 'medium', production: 'medium' },
  check({ containers }) {
    return checkedContainers(containers).flatMap((container) => {
      const { requests, limits } = resourcesOf(container);
      return RESOURCES.filter(({ key }) => !isSet(requests[key]) && !isSet(limits[key])).map(
        ({ key, label }): RuleHit => ({
          message: `${describeContainer(container)} has no ${label} request.`,
          container: container.name,
          path: `${container.path}.resources.requests.${key}`,
        }),
      );
    });
  },
};

const missingLimits: Rule = {
  id: 'missing-limits',
  title: 'Missing memory limit',
  category: 'efficiency',
  description:
    'A container without a memory limit can take all the memory of its node until the kernel kills processes of other pods, which on a small edge node often means the k3s server or the agent itself. A missing CPU limit is reported only as info: CPU limits throttle a container even when the node is idle, and most guidance now sets CPU requests without limits. Init containers are checked as the other containers.',
  fix: 'Set `resources.limits.memory` on every container, somewhat above its peak use; a CPU limit is optional.',
  reads: [
    'containers[].resources.limits.memory',
    'containers[].resources.limits.cpu',
    'initContainers[].resources.limits',
  ],
  severity: { nonProduction: 'medium', production: 'medium' },
  check({ containers }) {
    return checkedContainers(containers).flatMap((container): RuleHit[] => {
      const { limits } = resourcesOf(container);
      const hits: RuleHit[] = [];
      if (!isSet(limits.memory)) {
        hits.push({
          message: `${describeContainer(container)} has no memory limit.`,
          container: container.name,
          path: `${container.path}.resources.limits.memory`,
        });
      }
      if (!isSet(limits.cpu)) {
        hits.push({
          message: `${describeContainer(container)} has no CPU limit (informational: it can use idle CPU of the node).`,
          container: container.name,
          path: `${container.path}.resources.limits.cpu`,
          severity: { nonProduction: 'info', production: 'info' },
        });
      }
      return hits;
    });
  },
};

export const EFFICIENCY_RULES: Rule[] = [missingRequests, missingLimits];
