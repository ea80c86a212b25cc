import { Text } from '@mantine/core';

/** The live log viewer of one cluster's pods (the cluster page's Logs tab). */
export function LogViewer({ clusterId, logsEnabled }: { clusterId: string; logsEnabled: boolean }) {
  return <Text>{logsEnabled ? `Logs of ${clusterId}` : 'Logs are off for this cluster.'}</Text>;
}
