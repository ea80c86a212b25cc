import { Suspense, lazy, useState } from 'react';
import { Button, Modal } from '@mantine/core';
import { PageLoading } from '../shell/page-states.js';

// The form (schemas, the API client) loads on first open, so the fleet's first page stays light.
const AddClusterForm = lazy(() => import('./add-cluster-form.js').then((m) => ({ default: m.AddClusterForm })));
const preload = (): void => void import('./add-cluster-form.js');

/**
 * "Add cluster": a dialog that creates the cluster, shows the agent's install command and waits
 * for the agent's first report, then opens the cluster's page. Its state lives here, below the
 * fleet page, so opening it never re-renders the streamed fleet.
 */
export function AddClusterButton() {
  const [opened, setOpened] = useState(false);
  return (
    <>
      <Button onClick={() => setOpened(true)} onMouseEnter={preload} onFocus={preload}>
        Add cluster
      </Button>
      <Modal opened={opened} onClose={() => setOpened(false)} title="Add a cluster" size="lg">
        {opened && (
          <Suspense fallback={<PageLoading />}>
            <AddClusterForm onClose={() => setOpened(false)} />
          </Suspense>
        )}
      </Modal>
    </>
  );
}
