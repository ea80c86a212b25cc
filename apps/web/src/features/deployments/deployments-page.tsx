import { useEffect, useMemo, useState } from 'react';
import { Alert, Button, Checkbox, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { ClusterList, DeploymentList, type Deployment, type DeploymentStatus } from '@niro/protocol';
import { useApi } from '../../lib/use-api.js';
import { Link, usePageTitle, useRouter, useSearchParams } from '../../lib/router.js';
import { formatTime } from '../../lib/format.js';
import { ListTable } from '../../lib/list-table.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import {
  DEPLOYMENTS_CSS,
  DEPLOYMENT_STATUSES,
  DRIFT_COLOR,
  LIFECYCLE_COLOR,
  ROLLOUT_COLOR,
  STATUS_COLOR,
  StateBadge,
  deploymentHref,
} from './deployment-ui.js';

const POLL_MS = 5_000;
const isStatus = (v: string | null): v is DeploymentStatus => DEPLOYMENT_STATUSES.some((s) => s === v);

/** `/deployments`: every managed deployment, filtered by cluster, status, name and archived (kept in the address). */
export function DeploymentsPage() {
  usePageTitle('Deployments');
  const { navigate } = useRouter();
  const [params, setParams] = useSearchParams();
  const cluster = params.get('cluster') ?? '';
  const statusParam = params.get('status');
  const status = isStatus(statusParam) ? statusParam : '';
  const q = params.get('q') ?? '';
  const archived = params.get('archived') === 'true';

  const [qInput, setQInput] = useState(q);
  const [debouncedQ] = useDebouncedValue(qInput, 300);
  useEffect(() => {
    if (debouncedQ !== q) setParams({ q: debouncedQ });
    // Only the typed text drives this; the address follows it.
  }, [debouncedQ]);

  const clusters = useApi('/clusters', ClusterList);
  const clusterOptions = useMemo(() => {
    const options = (clusters.data?.items ?? []).map((c) => ({ value: c.id, label: c.name }));
    if (cluster !== '' && !options.some((o) => o.value === cluster)) options.push({ value: cluster, label: cluster });
    return options;
  }, [clusters.data, cluster]);
  const filtered = cluster !== '' || status !== '' || q !== '' || archived;

  return (
    <Stack gap="md">
      <style dangerouslySetInnerHTML={{ __html: DEPLOYMENTS_CSS }} />
      <Group justify="space-between" wrap="wrap">
        <Title order={2} size="h3">
          Deployments
        </Title>
        <Group gap="xs">
          <Link href="/registries" className="niro-text-link">
            Registry credentials
          </Link>
          <Button onClick={() => navigate('/deployments/new')}>New deployment</Button>
        </Group>
      </Group>
      <Group gap="sm" align="flex-end" wrap="wrap" role="search" aria-label="Filter deployments">
        <NativeSelect
          label="Cluster"
          value={cluster}
          onChange={(e) => setParams({ cluster: e.currentTarget.value })}
          data={[{ value: '', label: 'All clusters' }, ...clusterOptions]}
          w={200}
        />
        <NativeSelect
          label="Status"
          value={status}
          onChange={(e) => setParams({ status: e.currentTarget.value })}
          data={[{ value: '', label: 'Any status' }, ...DEPLOYMENT_STATUSES.map((s) => ({ value: s, label: s }))]}
          w={160}
        />
        <TextInput
          label="Name"
          placeholder="Part of the name"
          value={qInput}
          onChange={(e) => setQInput(e.currentTarget.value)}
          w={220}
        />
        <Checkbox
          label="Include archived (deleted or no longer managed)"
          checked={archived}
          onChange={(e) => setParams({ archived: e.currentTarget.checked ? 'true' : null })}
          mb={8}
        />
      </Group>
      <DeploymentTable
        query={{ cluster, status, q, archived }}
        emptyState={filtered ? <Text c="dimmed">No deployment matches these filters.</Text> : <NoDeployments />}
      />
    </Stack>
  );
}

type Query = { cluster?: string; status?: DeploymentStatus | ''; q?: string; archived?: boolean };

/** The deployments table (polled every 5 s); also the cluster page's Deployments section. */
export function DeploymentTable({
  query,
  emptyState,
  showCluster = true,
}: {
  query: Query;
  emptyState: React.ReactNode;
  showCluster?: boolean;
}) {
  const search = new URLSearchParams();
  if (query.cluster) search.set('cluster', query.cluster);
  if (query.status) search.set('status', query.status);
  if (query.q) search.set('q', query.q);
  if (query.archived === true) search.set('archived', 'true');
  const qs = search.toString();
  const list = useApi(`/deployments${qs === '' ? '' : `?${qs}`}`, DeploymentList, POLL_MS);

  if (list.data === null)
    return list.error === null ? <PageLoading what="Loading deployments…" /> : <PageError error={list.error} />;
  if (list.data.items.length === 0) return <>{emptyState}</>;
  return (
    <Stack gap="xs">
      {list.error !== null && (
        <Text size="sm" c="red" role="status">
          Update failed: {list.error}
        </Text>
      )}
      <ListTable
        minWidth={900}
        striped
        highlightOnHover
        data-testid="deployments-table"
        columns={[showCluster && 'Cluster', 'Namespace', 'Name', 'Status', 'Rollout', 'Drift', 'Revision', 'Updated']}
      >
        {list.data.items.map((d) => (
          <DeploymentRow key={d.id} d={d} showCluster={showCluster} />
        ))}
      </ListTable>
    </Stack>
  );
}

function DeploymentRow({ d, showCluster }: { d: Deployment; showCluster: boolean }) {
  const r = d.rollout;
  return (
    <Table.Tr data-deployment={d.name} data-status={d.status}>
      {showCluster && (
        <Table.Td>
          <Link href={`/clusters/${encodeURIComponent(d.clusterId)}`} className="niro-text-link">
            {d.clusterName}
          </Link>
        </Table.Td>
      )}
      <Table.Td>{d.namespace}</Table.Td>
      <Table.Td>
        <Link href={deploymentHref(d.id)} className="niro-text-link">
          {d.name}
        </Link>
      </Table.Td>
      <Table.Td>
        <Group gap={4} wrap="nowrap">
          <StateBadge value={d.status} color={STATUS_COLOR[d.status]} testId="deployment-status" />
          {d.lifecycle !== 'active' && <StateBadge value={d.lifecycle} color={LIFECYCLE_COLOR[d.lifecycle]} />}
        </Group>
      </Table.Td>
      <Table.Td>
        <Group gap={6} wrap="nowrap">
          <Text size="sm">
            {r.readyReplicas}/{r.desiredReplicas}
          </Text>
          <StateBadge value={r.state} color={ROLLOUT_COLOR[r.state]} />
        </Group>
      </Table.Td>
      <Table.Td>
        <StateBadge value={d.drift.state} color={DRIFT_COLOR[d.drift.state]} />
      </Table.Td>
      <Table.Td>{d.revision}</Table.Td>
      <Table.Td>
        <Text size="sm">{formatTime(d.updatedAt)}</Text>
      </Table.Td>
    </Table.Tr>
  );
}

function NoDeployments() {
  const { navigate } = useRouter();
  return (
    <Alert color="blue" title="No deployments yet" data-testid="deployments-empty">
      <Stack gap="xs" align="flex-start">
        <Text size="sm">
          A deployment is an application Niro applies to one cluster and keeps track of: made with the builder form,
          pasted as YAML or fetched from a Git repository. Every apply is a revision you can compare and roll back to;
          Niro shows the rollout of its pods, checks it for policy findings before it is applied and reports when the
          live objects drift from it. The cluster’s agent needs the apply capability.
        </Text>
        <Button onClick={() => navigate('/deployments/new')}>New deployment</Button>
      </Stack>
    </Alert>
  );
}
