import type { PodStatus } from '@niro/protocol';

export const POD_STATUSES: readonly PodStatus[] = ['running', 'pending', 'crashloop', 'failed', 'succeeded', 'unknown'];

export const POD_STATUS_COLOR: Record<PodStatus, string> = {
  running: 'green',
  pending: 'blue',
  crashloop: 'red',
  failed: 'red',
  succeeded: 'gray',
  unknown: 'gray',
};

export function isPodStatus(v: string | null): v is PodStatus {
  return POD_STATUSES.some((s) => s === v);
}

/** The cluster page's Logs tab, opened on one pod (and one of its containers). */
export function podLogsHref(clusterId: string, pod: { namespace: string; name: string }, container?: string): string {
  const q = new URLSearchParams({ namespace: pod.namespace, pod: pod.name });
  if (container !== undefined) q.set('container', container);
  return `/clusters/${encodeURIComponent(clusterId)}/logs?${q.toString()}`;
}

/** The fleet's pods page, filtered. */
export function podsHref(filters: { cluster?: string; image?: string; namespace?: string; q?: string }): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s === '' ? '/pods' : `/pods?${s}`;
}
