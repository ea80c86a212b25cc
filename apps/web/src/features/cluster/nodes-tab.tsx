import { Badge, Group, Table, Text } from '@mantine/core';
import { ClusterNodeList, type ClusterNode } from '@niro/protocol';
import { useApi } from '../../lib/use-api.js';
import { formatBytes, formatCpu, formatPercent } from '../../lib/format.js';
import { PageError, PageLoading } from '../shell/page-states.js';

const NODES_POLL_MS = 15_000;

/** Nodes as last reported, with usage against allocatable when metrics-server is there. */
export function NodesTab({ clusterId }: { clusterId: string }) {
  const nodes = useApi(`/clusters/${encodeURIComponent(clusterId)}/nodes`, ClusterNodeList, NODES_POLL_MS);
  if (nodes.data === null) {
    return nodes.error === null ? <PageLoading what="Loading nodes…" /> : <PageError error={nodes.error} />;
  }
  if (nodes.data.items.length === 0) {
    return <Text c="dimmed">No nodes reported yet: they arrive with the agent's first heartbeat.</Text>;
  }
  return (
    <Table.ScrollContainer minWidth={900}>
      <Table striped highlightOnHover verticalSpacing={6} data-testid="nodes-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Node</Table.Th>
            <Table.Th>Ready</Table.Th>
            <Table.Th>Roles</Table.Th>
            <Table.Th>Kubelet</Table.Th>
            <Table.Th>CPU used / allocatable</Table.Th>
            <Table.Th>Memory used / allocatable</Table.Th>
            <Table.Th>Pods</Table.Th>
            <Table.Th>Conditions</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {nodes.data.items.map((n) => (
            <NodeRow key={n.name} node={n} />
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function NodeRow({ node: n }: { node: ClusterNode }) {
  // Ready is the condition that matters; other conditions are shown only when they are not False.
  const problems = n.conditions.filter((c) => c.type !== 'Ready' && c.status !== 'False');
  return (
    <Table.Tr data-node={n.name}>
      <Table.Td>
        <Text size="sm" fw={600}>
          {n.name}
        </Text>
      </Table.Td>
      <Table.Td>
        <Group gap={4}>
          <Badge size="sm" color={n.ready ? 'green' : 'red'} variant="light">
            {n.ready ? 'Ready' : 'Not ready'}
          </Badge>
          {n.unschedulable && (
            <Badge size="sm" color="yellow" variant="light">
              cordoned
            </Badge>
          )}
        </Group>
      </Table.Td>
      <Table.Td>{n.roles.length === 0 ? '—' : n.roles.join(', ')}</Table.Td>
      <Table.Td>{n.kubeletVersion}</Table.Td>
      <Table.Td>{usage(n.usage?.cpuMilli, n.allocatable.cpuMilli, formatCpu)}</Table.Td>
      <Table.Td>{usage(n.usage?.memoryBytes, n.allocatable.memoryBytes, formatBytes)}</Table.Td>
      <Table.Td>{n.allocatable.pods ?? '–'}</Table.Td>
      <Table.Td>
        {problems.length === 0 ? (
          <Text size="sm" c="dimmed">
            none
          </Text>
        ) : (
          problems.map((c) => (
            <Text size="xs" key={c.type} title={c.message}>
              {c.type}: {c.status}
              {c.reason === undefined ? '' : ` (${c.reason})`}
            </Text>
          ))
        )}
      </Table.Td>
    </Table.Tr>
  );
}

function usage(used: number | undefined, total: number | undefined, format: (v: number) => string): string {
  const t = total === undefined ? '–' : format(total);
  if (used === undefined) return `– / ${t}`;
  return `${format(used)} / ${t} (${formatPercent(used, total)})`;
}
