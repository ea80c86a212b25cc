import { Badge } from '@mantine/core';
import {
  Me,
  type DeploymentLifecycle,
  type DeploymentStatus,
  type DriftState,
  type PolicySeverity,
  type RevisionStatus,
  type Role,
  type RolloutState,
} from '@niro/protocol';
import { useApi } from '../../lib/use-api.js';

export const DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = ['new', 'pending', 'succeeded', 'partial', 'failed'];

export const STATUS_COLOR: Record<DeploymentStatus | RevisionStatus, string> = {
  new: 'gray',
  pending: 'blue',
  succeeded: 'teal',
  partial: 'orange',
  failed: 'red',
  expired: 'gray',
  cancelled: 'gray',
};

export const ROLLOUT_COLOR: Record<RolloutState, string> = {
  none: 'gray',
  progressing: 'blue',
  ready: 'teal',
  stalled: 'red',
};

export const DRIFT_COLOR: Record<DriftState, string> = {
  unknown: 'gray',
  checking: 'blue',
  clean: 'teal',
  drifted: 'orange',
};

export const LIFECYCLE_COLOR: Record<DeploymentLifecycle, string> = {
  active: 'teal',
  deleting: 'orange',
  deleted: 'gray',
  unmanaged: 'gray',
};

export const SEVERITY_COLOR: Record<PolicySeverity, string> = {
  high: 'red',
  medium: 'orange',
  low: 'yellow',
  info: 'gray',
};
export const SEVERITY_ORDER: readonly PolicySeverity[] = ['high', 'medium', 'low', 'info'];

/** A small badge whose text says the state (colour is only a second cue). */
export function StateBadge({ value, color, testId }: { value: string; color: string; testId?: string }) {
  return (
    <Badge color={color} variant="light" size="sm" data-testid={testId} data-state={value}>
      {value}
    </Badge>
  );
}

export const deploymentHref = (id: string): string => `/deployments/${encodeURIComponent(id)}`;

const RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };

/**
 * Whether the user may change deployments of `orgId` (the member role). An org missing from /me
 * (reached through a parent) leaves it unknown: the controls stay enabled and the server's 403
 * explains, rather than locking out someone who may write.
 */
export function useCanWrite(orgId: string | null): { canWrite: boolean; role: Role | null } {
  const me = useApi('/me', Me);
  const role = orgId === null ? null : (me.data?.orgs.find((o) => o.id === orgId)?.role ?? null);
  return { canWrite: role === null || RANK[role] >= RANK.member, role };
}

/** The pull Secret's name the server gives a registry credential (registries.service.ts, pullSecretName). */
export function pullSecretName(registryId: string): string {
  return `niro-registry-${registryId.replace(/-/g, '').slice(-16).toLowerCase()}`;
}

/** Links and focus outlines shared by the deployments and registries pages. */
export const DEPLOYMENTS_CSS = `
.niro-text-link{color:var(--mantine-color-anchor);text-decoration:none}
.niro-text-link:hover,p .niro-text-link{text-decoration:underline}
.niro-text-link:focus-visible{outline:2px solid var(--mantine-primary-color-filled);outline-offset:2px}
.niro-diff{font-family:var(--mantine-font-family-monospace);font-size:var(--mantine-font-size-xs);white-space:pre;overflow:auto;max-height:520px;border:1px solid var(--mantine-color-default-border);border-radius:4px;margin:0;padding:4px 0}
.niro-diff-line{padding:0 8px}
.niro-diff-add{background:var(--mantine-color-green-light);color:var(--mantine-color-text)}
.niro-diff-del{background:var(--mantine-color-red-light);color:var(--mantine-color-text)}
.niro-diff-hunk{color:var(--mantine-color-dimmed)}
`;
