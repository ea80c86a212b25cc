import type { Container } from '@niro/protocol';
import { formatBytes, formatCpu, formatPercent } from '../../lib/format.js';

export type ResourceName = 'cpuMilli' | 'memoryBytes';

/** What a pod's usage of one resource is measured against. */
export type PodBound = { kind: 'limit' | 'request'; value: number } | null;

const FORMAT: Record<ResourceName, (v: number | null | undefined) => string> = {
  cpuMilli: formatCpu,
  memoryBytes: formatBytes,
};

/** `request / limit` of one container, with – for what it does not set. */
export function requestAndLimit(c: Container, resource: ResourceName): string {
  return `${FORMAT[resource](c.requests[resource])} / ${FORMAT[resource](c.limits[resource])}`;
}

/**
 * The pod's bound of one resource: the summed limits when every container sets one (otherwise
 * the pod is unbounded), else the summed requests of the containers that set one. Init
 * containers are left out: the usage metrics-server reports is that of the running containers.
 */
export function podBound(containers: readonly Container[], resource: ResourceName): PodBound {
  if (containers.length === 0) return null;
  const limits = containers.map((c) => c.limits[resource]);
  if (limits.every((v) => v !== undefined)) {
    return { kind: 'limit', value: limits.reduce<number>((sum, v) => sum + (v ?? 0), 0) };
  }
  const requests = containers.flatMap((c) => (c.requests[resource] === undefined ? [] : [c.requests[resource]]));
  if (requests.length === 0) return null;
  return { kind: 'request', value: requests.reduce<number>((sum, v) => sum + (v ?? 0), 0) };
}

/**
 * The summed requests and limits of the containers: – for requests when none sets one, and for
 * the limit unless every container sets one (one unbounded container leaves the pod unbounded).
 */
export function summedRequestAndLimit(containers: readonly Container[], resource: ResourceName): string {
  const requests = containers.flatMap((c) => (c.requests[resource] === undefined ? [] : [c.requests[resource]]));
  const request = requests.length === 0 ? null : requests.reduce<number>((a, b) => a + (b ?? 0), 0);
  const bound = podBound(containers, resource);
  const format = FORMAT[resource];
  return `${format(request)} / ${format(bound?.kind === 'limit' ? bound.value : null)}`;
}

/** `120m of 500m limit (24%)`, or the usage alone when the pod sets neither. */
export function usageAgainst(usage: number, bound: PodBound, resource: ResourceName): string {
  const format = FORMAT[resource];
  if (bound === null) return `${format(usage)} (no request or limit)`;
  return `${format(usage)} of ${format(bound.value)} ${bound.kind} (${formatPercent(usage, bound.value)})`;
}

/** The share of the bound in use, for colouring: 0..1 and over, or null without a bound. */
export function shareOf(usage: number, bound: PodBound): number | null {
  return bound === null || bound.value <= 0 ? null : usage / bound.value;
}
