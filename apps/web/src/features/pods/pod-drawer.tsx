import { Drawer } from '@mantine/core';
import type { PodRow } from '@niro/protocol';
import { PodDetails } from './pod-details.js';

/** A pod's details in a drawer from the right; `pod` null: closed. */
export function PodDrawer({ pod, onClose }: { pod: PodRow | null; onClose: () => void }) {
  return (
    <Drawer
      opened={pod !== null}
      onClose={onClose}
      position="right"
      size="xl"
      title={pod === null ? '' : `${pod.namespace}/${pod.name}`}
    >
      {pod !== null && <PodDetails pod={pod} />}
    </Drawer>
  );
}
