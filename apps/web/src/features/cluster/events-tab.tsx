import { Text } from '@mantine/core';
import { ClusterEventList } from '@niro/protocol';
import { useApi } from '../../lib/use-api.js';
import { EventsTable } from './events-table.js';
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
  return <EventsTable events={events.data.items} now={now} data-testid="events-table" />;
}
