import { Suspense, use } from 'react';
import { Button, Container, Group, Text, Title, useMantineColorScheme } from '@mantine/core';
import { type FleetSnapshot } from '../../lib/fleet-data.js';
import { FLEET_ELEMENT_ID, inlineJson } from '../../page-input.js';
import { FleetView } from './fleet-view.js';

export function FleetPage({ email, fleet }: { email: string; fleet: Promise<FleetSnapshot> | null }) {
  return (
    <Container size="xl" py="md">
      <Group justify="space-between" mb="md" component="header">
        <Group gap="xs">
          <Title order={1} size="h3">
            Niro
          </Title>
          <Text c="dimmed">Fleet</Text>
        </Group>
        <Group gap="xs">
          <Text size="sm" c="dimmed">
            {email}
          </Text>
          <ThemeToggle />
          <Button variant="subtle" size="xs" onClick={() => void logout()}>
            Sign out
          </Button>
        </Group>
      </Group>
      <main>
        {fleet === null ? (
          <Text>No fleet data.</Text>
        ) : (
          <Suspense
            fallback={
              <Text className="niro-stream-fallback" c="dimmed" data-testid="fleet-loading">
                Loading the fleet…
              </Text>
            }
          >
            <StreamedFleet fleet={fleet} />
          </Suspense>
        )}
      </main>
    </Container>
  );
}

/** Waits for the fleet (server: the query; browser: already resolved) and embeds it for hydration. */
function StreamedFleet({ fleet }: { fleet: Promise<FleetSnapshot> }) {
  const snapshot = use(fleet);
  const embedded = inlineJson(JSON.stringify(snapshot));
  return (
    <>
      <script type="application/json" id={FLEET_ELEMENT_ID} dangerouslySetInnerHTML={{ __html: embedded }} />
      <FleetView initial={snapshot} />
    </>
  );
}

function ThemeToggle() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  return (
    <Button
      variant="default"
      size="xs"
      onClick={() => setColorScheme(colorScheme === 'dark' ? 'light' : 'dark')}
      aria-label="Switch between light and dark theme"
    >
      Theme
    </Button>
  );
}

async function logout(): Promise<void> {
  await fetch('/api/v1/auth/logout', { method: 'POST' }).catch(() => undefined);
  window.location.assign('/login');
}
