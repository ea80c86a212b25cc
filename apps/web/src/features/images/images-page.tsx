import { Title } from '@mantine/core';

export function ImagesPage() {
  return (
    <Title order={2} size="h4">
      ImagesPage
    </Title>
  );
}
