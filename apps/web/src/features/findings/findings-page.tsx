import { Title } from '@mantine/core';

export function FindingsPage() {
  return (
    <Title order={2} size="h4">
      FindingsPage
    </Title>
  );
}
