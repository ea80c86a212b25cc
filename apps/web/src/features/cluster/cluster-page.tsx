import { Title } from '@mantine/core';

export function ClusterPage({ id, tab }: { id: string; tab: string }) {
  return (
    <Title order={2} size="h4">
      Cluster {id} {tab}
    </Title>
  );
}
