import { Text } from '@mantine/core';

/** Incidents, fleet-wide or of one cluster (the cluster page's Incidents tab). */
export function IncidentList({ clusterId }: { clusterId?: string }) {
  return <Text>Incidents {clusterId ?? ''}</Text>;
}
