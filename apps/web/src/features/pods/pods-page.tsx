import { Title } from '@mantine/core';

export function PodsPage() {
  return (
    <Title order={2} size="h4">
      PodsPage
    </Title>
  );
}
