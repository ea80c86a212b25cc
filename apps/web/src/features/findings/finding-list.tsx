import { Text } from '@mantine/core';

/** Policy findings, fleet-wide or of one cluster (the cluster page's Findings tab). */
export function FindingList({ clusterId }: { clusterId?: string }) {
  return <Text>Findings {clusterId ?? ''}</Text>;
}
