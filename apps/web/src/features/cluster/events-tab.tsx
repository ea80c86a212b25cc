import { Table, Text } from '@mantine/core';
import { ClusterEventList } from '@niro/protocol';
import { useApi } from '../../lib/use-api.js';
import { formatTime } from '../../lib/format.js';
import { formatAge } from '../fleet/format-age.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { useNow } from './use-cluster.js';

const EVENTS_POLL_MS = 15_000;

/** The cluster's recent Warning events, newest first (the server's order). */
export function EventsTab({ clusterId }: { clusterId: string }) {
  const events = useApi(`/clusters/${encodeURIComponent(clusterId)}/events`, ClusterEventList, EVENTS_POLL_MS);
  const now = useNow(5000);
  if (events.data === null) {
    return events.error === null ? <PageLoading what="Loading events…" /> : <PageError error={events.error} />;
  }
  if (events.data.items.length === 0) {
    return <Text c="dimmed">No Warning events: the agent reports Warning events with its heartbeat.</Text>;
  }
  return (
    <Table.ScrollContainer minWidth={900}>
      <Table striped verticalSpacing={6} data-testid="events-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Last seen</Table.Th>
            <Table.Th>Object</Table.Th>
            <Table.Th>Reason</Table.Th>
            <Table.Th>Message</Table.Th>
            <Table.Th>Count</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {events.data.items.map((e, i) => {
            const last = Date.parse(e.lastTimestamp);
            return (
              <Table.Tr key={`${e.namespace}/${e.involvedObject.kind}/${e.involvedObject.name}/${e.reason}/${i}`}>
                <Table.Td title={formatTime(e.lastTimestamp)} style={{ whiteSpace: 'nowrap' }}>
                  {Number.isNaN(last) ? e.lastTimestamp : formatAge(now - last)}
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{`${e.involvedObject.kind}/${e.involvedObject.name}`}</Text>
                  <Text size="xs" c="dimmed">
                    {e.namespace}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" fw={600} c="orange">
                    {e.reason}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" style={{ wordBreak: 'break-word' }}>
                    {e.message}
                  </Text>
                </Table.Td>
                <Table.Td>{e.count}</Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
