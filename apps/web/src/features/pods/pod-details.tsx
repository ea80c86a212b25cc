import { useState } from 'react';
import { Badge, Code, Group, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { ClusterPodDetail, PodUsage, type PodRow, type UsageRange } from '@niro/protocol';
import { formatCpu, formatTime } from '../../lib/format.js';
import { Link } from '../../lib/router.js';
import { useApi } from '../../lib/use-api.js';
import { UsageRangeControl, cpuMemoryCharts, useUsageSeries } from '../cluster/usage-chart.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { PodContainers } from './pod-containers.js';
import { POD_STATUS_COLOR, podLogsHref } from './pod-links.js';

const USAGE_POLL_MS = 30_000;

/** One pod: what the agent reported, its containers, its CPU and memory over time, and a way to its log. */
export function PodDetails({ pod }: { pod: PodRow }) {
  const [range, setRange] = useState<UsageRange>('1h');
  const seg = encodeURIComponent;
  const detail = useApi(
    `/clusters/${seg(pod.clusterId)}/pods/${seg(pod.namespace)}/${seg(pod.name)}`,
    ClusterPodDetail,
    USAGE_POLL_MS,
  );
  return (
    <Stack gap="md" data-testid="pod-details">
      <Group gap="xs">
        <Badge color={POD_STATUS_COLOR[pod.status]} variant="light">
          {pod.status}
        </Badge>
        <Text size="sm" c="dimmed">
          phase {pod.phase}
        </Text>
      </Group>
      <SimpleGrid cols={2} spacing="xs" verticalSpacing={4}>
        <Fact label="Cluster">
          <Link href={`/clusters/${encodeURIComponent(pod.clusterId)}`}>{pod.clusterName}</Link>
        </Fact>
        <Fact label="Namespace">{pod.namespace}</Fact>
        <Fact label="Node">{pod.nodeName ?? '–'}</Fact>
        <Fact label="Owner">{pod.ownerKind === null ? '–' : `${pod.ownerKind}/${pod.ownerName ?? ''}`}</Fact>
        <Fact label="Ready">{`${pod.readyContainers}/${pod.totalContainers} containers`}</Fact>
        <Fact label="Restarts">{String(pod.restarts)}</Fact>
        <Fact label="Started">{formatTime(pod.startedAt)}</Fact>
      </SimpleGrid>
      <Stack gap={4}>
        <Title order={3} size="h5">
          Containers
        </Title>
        {detail.data !== null ? (
          <PodContainers detail={detail.data} />
        ) : detail.error !== null ? (
          <>
            <PageError title="The pod's containers could not be loaded" error={detail.error} />
            <Text size="sm" fw={600}>
              Images
            </Text>
            {pod.images.map((image) => (
              <Code key={image} style={{ wordBreak: 'break-all' }}>
                {image}
              </Code>
            ))}
          </>
        ) : (
          <PageLoading what="Loading containers…" />
        )}
      </Stack>
      <Link href={podLogsHref(pod.clusterId, pod)} data-testid="pod-logs-link">
        Open the log of {pod.name}
      </Link>
      <Group justify="space-between" align="center">
        <Title order={3} size="h5">
          Usage
        </Title>
        <UsageRangeControl label="Usage range" value={range} onChange={setRange} />
      </Group>
      <PodUsageCharts pod={pod} range={range} />
    </Stack>
  );
}

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text size="sm" component="div" style={{ wordBreak: 'break-all' }}>
        {children}
      </Text>
    </div>
  );
}

function PodUsageCharts({ pod, range }: { pod: PodRow; range: UsageRange }) {
  const seg = encodeURIComponent;
  const path = `/clusters/${seg(pod.clusterId)}/pods/${seg(pod.namespace)}/${seg(pod.name)}/usage?range=${range}`;
  const { data, error } = useApi(path, PodUsage, USAGE_POLL_MS);
  const series = useUsageSeries(data?.points, range);
  if (error !== null && data === null) return <PageError title="Usage could not be loaded" error={error} />;
  if (data === null) return <PageLoading what="Loading usage…" />;
  const none =
    'No usage recorded for this pod in this range. Usage comes from metrics-server (metrics.k8s.io) through the agent.';
  if (series.empty) {
    return (
      <Text size="sm" c="dimmed" data-testid="pod-usage-empty">
        {none}
      </Text>
    );
  }
  return (
    <Stack gap="sm">
      {cpuMemoryCharts(series, {
        formatCpu,
        emptyText: { cpu: none, memory: none },
        testIdPrefix: 'pod-usage-',
        height: 160,
      }).map((c) => c.chart)}
    </Stack>
  );
}
