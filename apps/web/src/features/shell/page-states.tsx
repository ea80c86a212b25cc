import { Alert, Loader, Group, Text } from '@mantine/core';

/** What a page shows while its first data loads. */
export function PageLoading({ what = 'Loading…' }: { what?: string }) {
  return (
    <Group gap="xs" role="status" data-testid="page-loading">
      <Loader size="xs" />
      <Text c="dimmed" size="sm">
        {what}
      </Text>
    </Group>
  );
}

/** A failed load or action, in the server's words. */
export function PageError({ error, title = 'Something went wrong' }: { error: string; title?: string }) {
  return (
    <Alert color="red" title={title} role="alert" data-testid="page-error">
      {error}
    </Alert>
  );
}
