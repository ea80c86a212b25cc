import { Suspense, use, useEffect, useState } from 'react';
import { Group, Stack, Text, Title } from '@mantine/core';
import { apiFetch, errorText } from '../../lib/http.js';
import { parseFleet, type FleetSnapshot } from '../../lib/fleet-data.js';
import { usePageTitle } from '../../lib/router.js';
import { FLEET_ELEMENT_ID, inlineJson } from '../../page-input.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { AddClusterButton } from './add-cluster-dialog.js';
import { FleetView } from './fleet-view.js';

/**
 * The fleet overview. Opened as the first page, the fleet streams in with the document (`fleet` is
 * the streamed promise); reached from another page, it is fetched here.
 */
export function FleetPage({ fleet }: { fleet: Promise<FleetSnapshot> | null }) {
  usePageTitle('Fleet');
  return (
    <Stack gap="md">
      <Group justify="space-between" wrap="wrap" gap="sm">
        <Title order={2} size="h3">
          Fleet
        </Title>
        <AddClusterButton />
      </Group>
      {fleet === null ? (
        <FetchedFleet />
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
    </Stack>
  );
}

/** Waits for the fleet (server: the query; browser: already resolved) and embeds it for hydration. */
function StreamedFleet({ fleet }: { fleet: Promise<FleetSnapshot> }) {
  const snapshot = use(fleet);
  const body = snapshot.body ?? JSON.stringify(snapshot.fleet);
  const embedded = inlineJson(`{"fleet":${body},"etag":${JSON.stringify(snapshot.etag)}}`);
  return (
    <>
      <script type="application/json" id={FLEET_ELEMENT_ID} dangerouslySetInnerHTML={{ __html: embedded }} />
      <FleetView initial={snapshot} />
    </>
  );
}

function FetchedFleet() {
  const [snapshot, setSnapshot] = useState<FleetSnapshot | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    apiFetch('/fleet')
      .then(async (res) => {
        const fleet = parseFleet(await res.json());
        if (live) setSnapshot({ fleet, etag: res.headers.get('etag') ?? '' });
      })
      .catch((err: unknown) => live && setError(errorText(err)));
    return () => void (live = false);
  }, []);
  if (error !== null) return <PageError error={error} title="The fleet could not be loaded" />;
  if (snapshot === null) return <PageLoading what="Loading the fleet…" />;
  return <FleetView initial={snapshot} />;
}
