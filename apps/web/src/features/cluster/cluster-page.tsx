import { Alert, Badge, Box, Group, Stack, Text, Title } from '@mantine/core';
import type { Cluster, ClusterStatus } from '@niro/protocol';
import { Link, usePageTitle } from '../../lib/router.js';
import { formatTime } from '../../lib/format.js';
import { formatAge } from '../fleet/format-age.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { FindingList } from '../findings/finding-list.js';
import { IncidentList } from '../incidents/incident-list.js';
import { LogViewer } from '../logs/log-viewer.js';
import { useCluster, useNow } from './use-cluster.js';
import { OverviewTab } from './overview-tab.js';
import { NodesTab } from './nodes-tab.js';
import { PodsTab } from './pods-tab.js';
import { WorkloadsTab } from './workloads-tab.js';
import { EventsTab } from './events-tab.js';
import { CommandsTab } from './commands-tab.js';
import { SettingsTab } from './settings-tab.js';
import { CAPABILITY_NAMES } from './capabilities.js';
import { ClusterDeploymentsTab } from '../deployments/cluster-deployments-tab.js';

/** The same colours as the fleet table's status badges. */
export const STATUS_COLOR: Record<ClusterStatus, string> = {
  critical: 'red',
  warning: 'yellow',
  unknown: 'gray',
  offline: 'dark',
  pending: 'blue',
  healthy: 'green',
};

export const CLUSTER_TABS = [
  { value: 'overview', label: 'Overview' },
  { value: 'nodes', label: 'Nodes' },
  { value: 'pods', label: 'Pods' },
  { value: 'workloads', label: 'Workloads' },
  { value: 'events', label: 'Events' },
  { value: 'findings', label: 'Findings' },
  { value: 'incidents', label: 'Incidents' },
  { value: 'deployments', label: 'Deployments' },
  { value: 'commands', label: 'Commands' },
  { value: 'logs', label: 'Logs' },
  { value: 'settings', label: 'Settings' },
] as const;

export const clusterHref = (id: string, tab = 'overview'): string =>
  `/clusters/${encodeURIComponent(id)}${tab === 'overview' ? '' : `/${tab}`}`;

/** `/clusters/:id/:tab?`: one cluster's header, its sections as links, and the open section. */
export function ClusterPage({ id, tab }: { id: string; tab: string }) {
  const { cluster, error, notFound, setCluster } = useCluster(id);
  usePageTitle(cluster === null ? 'Cluster' : `${cluster.name} · ${tabLabel(tab)}`);

  if (notFound) {
    return (
      <Alert color="yellow" title="No such cluster (or not in your organizations)" data-testid="cluster-not-found">
        <Text size="sm">
          There is no cluster with the id <code>{id}</code> that you can see. It may have been deleted.{' '}
          <Link href="/" className="niro-text-link">
            Back to the fleet
          </Link>
        </Text>
      </Alert>
    );
  }
  if (cluster === null) {
    return error === null ? <PageLoading what="Loading the cluster…" /> : <PageError error={error} />;
  }
  return (
    <Stack gap="md">
      <style dangerouslySetInnerHTML={{ __html: CLUSTER_CSS }} />
      <ClusterHeader cluster={cluster} />
      {error !== null && (
        <Text size="sm" c="red" role="status">
          Update failed: {error}
        </Text>
      )}
      <TabNav id={cluster.id} tab={tab} />
      <Box component="section" aria-label={tabLabel(tab)} data-testid={`cluster-tab-${tab}`}>
        <TabContent cluster={cluster} tab={tab} onUpdated={setCluster} />
      </Box>
    </Stack>
  );
}

function tabLabel(tab: string): string {
  return CLUSTER_TABS.find((t) => t.value === tab)?.label ?? 'Cluster';
}

function TabContent({
  cluster,
  tab,
  onUpdated,
}: {
  cluster: Cluster;
  tab: string;
  onUpdated: (cluster: Cluster) => void;
}) {
  switch (tab) {
    case 'overview':
      return <OverviewTab cluster={cluster} />;
    case 'nodes':
      return <NodesTab clusterId={cluster.id} />;
    case 'pods':
      return <PodsTab cluster={cluster} />;
    case 'workloads':
      return <WorkloadsTab clusterId={cluster.id} />;
    case 'events':
      return <EventsTab clusterId={cluster.id} />;
    case 'findings':
      return <FindingList clusterId={cluster.id} />;
    case 'incidents':
      return <IncidentList clusterId={cluster.id} />;
    case 'deployments':
      return <ClusterDeploymentsTab clusterId={cluster.id} />;
    case 'commands':
      return <CommandsTab clusterId={cluster.id} />;
    case 'logs':
      return <LogViewer clusterId={cluster.id} logsEnabled={cluster.capabilities?.logs === true} />;
    case 'settings':
      return <SettingsTab cluster={cluster} onUpdated={onUpdated} />;
    default:
      return (
        <Text>
          This cluster has no section called “{tab}”.{' '}
          <Link href={clusterHref(cluster.id)} className="niro-text-link">
            Open the overview
          </Link>
        </Text>
      );
  }
}

function ClusterHeader({ cluster: c }: { cluster: Cluster }) {
  const now = useNow();
  const labels = Object.entries(c.labels);
  const caps = c.capabilities;
  return (
    <Stack gap={6} component="header" data-testid="cluster-header">
      <Group gap="sm" align="center" wrap="wrap">
        <Title order={2} size="h3" data-testid="cluster-name">
          {c.name}
        </Title>
        <Badge color={STATUS_COLOR[c.status]} variant="filled" data-testid="cluster-status" data-status={c.status}>
          {c.status}
        </Badge>
        <Badge color="gray" variant="light">
          {c.environment}
        </Badge>
        {labels.map(([k, v]) => (
          <Badge key={k} color="gray" variant="outline" tt="none">
            {`${k}=${v}`}
          </Badge>
        ))}
      </Group>
      <Group gap="lg" wrap="wrap">
        <Fact label="Kubernetes" value={c.kubernetesVersion ?? '—'} extra={c.distribution ?? undefined} />
        <Fact label="Agent" value={c.agentVersion ?? 'not enrolled'} />
        <Text size="sm" component="div">
          <Text span c="dimmed" size="sm">
            Last heartbeat{' '}
          </Text>
          <span title={formatTime(c.lastHeartbeatAt)} data-testid="cluster-heartbeat">
            {c.lastHeartbeatAt === null ? 'never' : formatAge(now - Date.parse(c.lastHeartbeatAt))}
          </span>
        </Text>
        <Group gap={4} component="div" aria-label="Capabilities">
          <Text span c="dimmed" size="sm">
            Capabilities
          </Text>
          {caps === null ? (
            <Text span size="sm">
              not reported yet
            </Text>
          ) : (
            CAPABILITY_NAMES.map((k) => (
              <Badge
                key={k}
                size="sm"
                variant={caps[k] ? 'light' : 'outline'}
                color={caps[k] ? 'teal' : 'gray'}
                tt="none"
                title={caps[k] ? `${k} is on` : `${k} is off`}
              >
                {`${k} ${caps[k] ? 'on' : 'off'}`}
              </Badge>
            ))
          )}
        </Group>
      </Group>
    </Stack>
  );
}

function Fact({ label, value, extra }: { label: string; value: string; extra?: string }) {
  return (
    <Text size="sm" component="div">
      <Text span c="dimmed" size="sm">
        {label}{' '}
      </Text>
      {value}
      {extra !== undefined && extra !== '' && (
        <Text span c="dimmed" size="sm">
          {' '}
          ({extra})
        </Text>
      )}
    </Text>
  );
}

function TabNav({ id, tab }: { id: string; tab: string }) {
  return (
    <nav aria-label="Cluster sections" className="niro-cluster-tabs">
      {CLUSTER_TABS.map((t) => (
        <Link
          key={t.value}
          href={clusterHref(id, t.value)}
          className="niro-cluster-tab"
          aria-current={t.value === tab ? 'page' : undefined}
          data-testid={`tab-${t.value}`}
        >
          {t.label}
        </Link>
      ))}
    </nav>
  );
}

/** Tabs drawn like Mantine's, as plain links so the address, back button and reload keep the section. */
const CLUSTER_CSS = `
.niro-cluster-tabs{display:flex;flex-wrap:wrap;gap:2px;border-bottom:1px solid var(--mantine-color-default-border)}
.niro-cluster-tab{padding:8px 12px;margin-bottom:-1px;border-bottom:2px solid transparent;color:var(--mantine-color-text);text-decoration:none;font-size:var(--mantine-font-size-sm)}
.niro-cluster-tab:hover{background:var(--mantine-color-default-hover)}
.niro-cluster-tab[aria-current=page]{border-bottom-color:var(--mantine-primary-color-filled);font-weight:600}
.niro-cluster-tab:focus-visible,.niro-text-link:focus-visible{outline:2px solid var(--mantine-primary-color-filled);outline-offset:2px}
.niro-text-link{color:var(--mantine-color-anchor);text-decoration:none}
.niro-text-link:hover{text-decoration:underline}
`;
