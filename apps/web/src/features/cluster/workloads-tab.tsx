import { Badge, Table, Text } from '@mantine/core';
import { ClusterWorkloadList, type ClusterWorkload } from '@niro/protocol';
import { useApi } from '../../lib/use-api.js';
import { PageError, PageLoading } from '../shell/page-states.js';

const WORKLOADS_POLL_MS = 15_000;

/** Deployments, StatefulSets and DaemonSets as last reported, with their rollout state. */
export function WorkloadsTab({ clusterId }: { clusterId: string }) {
  const workloads = useApi(
    `/clusters/${encodeURIComponent(clusterId)}/workloads`,
    ClusterWorkloadList,
    WORKLOADS_POLL_MS,
  );
  if (workloads.data === null) {
    return workloads.error === null ? <PageLoading what="Loading workloads…" /> : <PageError error={workloads.error} />;
  }
  if (workloads.data.items.length === 0) {
    return <Text c="dimmed">No workloads reported yet: they arrive with the agent's heartbeat.</Text>;
  }
  return (
    <Table.ScrollContainer minWidth={800}>
      <Table striped highlightOnHover verticalSpacing={6} data-testid="workloads-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Workload</Table.Th>
            <Table.Th>Kind</Table.Th>
            <Table.Th>Ready</Table.Th>
            <Table.Th>Up to date</Table.Th>
            <Table.Th>Available</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Managed by Niro</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {workloads.data.items.map((w) => (
            <Table.Tr key={`${w.kind}/${w.namespace}/${w.name}`} data-workload={w.name}>
              <Table.Td>
                <Text size="sm" fw={600}>
                  {w.name}
                </Text>
                <Text size="xs" c="dimmed">
                  {w.namespace}
                </Text>
              </Table.Td>
              <Table.Td>{w.kind}</Table.Td>
              <Table.Td>{`${w.readyReplicas}/${w.replicas}`}</Table.Td>
              <Table.Td>{w.updatedReplicas}</Table.Td>
              <Table.Td>{w.availableReplicas}</Table.Td>
              <Table.Td>
                <WorkloadState workload={w} />
              </Table.Td>
              <Table.Td>{w.deploymentId === undefined ? '—' : 'yes'}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function WorkloadState({ workload: w }: { workload: ClusterWorkload }) {
  const [label, color] =
    w.observedGeneration < w.generation || w.updatedReplicas < w.replicas
      ? ['rolling out', 'blue']
      : w.readyReplicas < w.replicas
        ? ['degraded', 'yellow']
        : w.replicas === 0
          ? ['scaled to zero', 'gray']
          : ['ready', 'green'];
  return (
    <Badge size="sm" variant="light" color={color}>
      {label}
    </Badge>
  );
}
