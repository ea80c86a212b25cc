import { Title } from '@mantine/core';

export function SettingsPage({ section }: { section: string }) {
  return (
    <Title order={2} size="h4">
      Settings {section}
    </Title>
  );
}
