import { Title } from '@mantine/core';

export function IncidentsPage({ id }: { id: string | null }) {
  return (
    <Title order={2} size="h4">
      Incidents {id}
    </Title>
  );
}
