import { Button, Group, Stack, Text } from '@mantine/core';
import { useRouter } from '../../lib/router.js';
import { DeploymentTable } from './deployments-page.js';

/** The cluster page's Deployments section: the deployments managed in this cluster. */
export function ClusterDeploymentsTab({ clusterId }: { clusterId: string }) {
  const { navigate } = useRouter();
  return (
    <Stack gap="sm">
      <Group justify="flex-end">
        <Button
          size="sm"
          variant="default"
          onClick={() => navigate(`/deployments?cluster=${encodeURIComponent(clusterId)}`)}
        >
          Open in Deployments
        </Button>
      </Group>
      <DeploymentTable
        query={{ cluster: clusterId }}
        showCluster={false}
        emptyState={
          <Text c="dimmed" data-testid="cluster-deployments-empty">
            No deployment is managed in this cluster. Create one under Deployments → New deployment.
          </Text>
        }
      />
    </Stack>
  );
}
