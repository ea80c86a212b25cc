import { useMemo } from 'react';
import { Alert, Group, Paper, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { ClusterUsage, IncidentPage, type Cluster, type UsageRange } from '@niro/protocol';
import { useApi } from '../../lib/use-api.js';
import { useQueryParam } from '../../lib/router.js';
import { formatCpu } from '../../lib/format.js';
import { UsageChart, UsageRangeControl, cpuMemoryCharts, useUsageSeries } from './usage-chart.js';
import { CapabilitiesSection } from './capabilities.js';

const USAGE_POLL_MS = 30_000;
const INCIDENTS_COUNT_LIMIT = 500;
const NO_USAGE = 'No usage yet: metrics-server reports usage when it is installed';

/** Summary cards, usage over time (1 h or 24 h) and the agent's capabilities. */
export function OverviewTab({ cluster }: { cluster: Cluster }) {
  const s = cluster.summary;
  const [rangeParam, setRange] = useQueryParam('range');
  const range: UsageRange = rangeParam === '24h' ? '24h' : '1h';
  const id = encodeURIComponent(cluster.id);
  const incidents = useApi(
    `/incidents?cluster=${id}&state=open&limit=${INCIDENTS_COUNT_LIMIT}`,
    IncidentPage,
    USAGE_POLL_MS,
  );
  const openIncidents =
    incidents.data === null
      ? incidents.error === null
        ? '…'
        : '–'
      : `${incidents.data.items.length}${incidents.data.nextCursor === null ? '' : '+'}`;
  const highIncidents = incidents.data?.items.filter((i) => i.severity === 'high').length ?? 0;

  return (
    <Stack gap="lg">
      <SimpleGrid cols={{ base: 1, xs: 3 }} spacing="md" data-testid="summary-cards">
        <SummaryCard
          label="Nodes ready"
          value={`${s.nodesReady}/${s.nodesTotal}`}
          note={s.nodesReady < s.nodesTotal ? `${s.nodesTotal - s.nodesReady} not ready` : undefined}
        />
        <SummaryCard
          label="Pods running"
          value={`${s.podsRunning}/${s.podsTotal}`}
          note={s.podsPending + s.podsFailed > 0 ? `${s.podsPending} pending, ${s.podsFailed} failed` : undefined}
        />
        <SummaryCard
          label="Open incidents"
          value={openIncidents}
          note={highIncidents > 0 ? `${highIncidents} high` : (incidents.error ?? undefined)}
        />
      </SimpleGrid>
      <UsageSection clusterId={cluster.id} range={range} onRange={(r) => setRange(r === '1h' ? null : r)} />
      <CapabilitiesSection capabilities={cluster.capabilities} />
    </Stack>
  );
}

function SummaryCard({ label, value, note }: { label: string; value: string; note?: string }) {
  return (
    <Paper withBorder p="md" radius="md" data-testid={`card-${label.toLowerCase().replace(/ /g, '-')}`}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text size="xl" fw={700}>
        {value}
      </Text>
      {note !== undefined && (
        <Text size="xs" c="dimmed">
          {note}
        </Text>
      )}
    </Paper>
  );
}

function UsageSection({
  clusterId,
  range,
  onRange,
}: {
  clusterId: string;
  range: UsageRange;
  onRange: (range: UsageRange) => void;
}) {
  const usage = useApi(`/clusters/${encodeURIComponent(clusterId)}/usage?range=${range}`, ClusterUsage, USAGE_POLL_MS);
  const series = useUsageSeries(usage.data?.points, range);
  const pods = useMemo(() => (usage.data?.points ?? []).map((p) => p.podsRunning), [usage.data]);

  return (
    <Stack gap="sm" component="section" aria-labelledby="usage-title">
      <Group justify="space-between" wrap="wrap">
        <Title order={3} size="h5" id="usage-title">
          Usage
        </Title>
        <UsageRangeControl label="Time range" value={range} onChange={onRange} />
      </Group>
      {usage.error !== null && usage.data === null ? (
        <Alert color="gray" title="Usage history is not available" data-testid="usage-error">
          {usage.error}
        </Alert>
      ) : usage.data === null ? (
        <Text size="sm" c="dimmed">
          Loading usage…
        </Text>
      ) : (
        <>
          {series.empty && (
            <Text size="sm" c="dimmed" data-testid="usage-none">
              {NO_USAGE}
            </Text>
          )}
          <SimpleGrid cols={{ base: 1, md: 3 }} spacing="md">
            {!series.empty &&
              cpuMemoryCharts(series, {
                formatCpu: formatCpuAxis,
                capacity: usage.data.capacity,
                emptyText: {
                  cpu: 'No CPU usage reported in this range.',
                  memory: 'No memory usage reported in this range.',
                },
                testIdPrefix: 'chart-',
              }).map(({ title, chart }) => (
                <ChartCard key={title} title={title}>
                  {chart}
                </ChartCard>
              ))}
            <ChartCard title="Pods running">
              <UsageChart
                label="Pods running"
                timesMs={series.timesMs}
                values={pods}
                windowMs={series.windowMs}
                format={formatCount}
                color="teal"
                emptyText="No heartbeat in this range."
                data-testid="chart-pods"
              />
            </ChartCard>
          </SimpleGrid>
        </>
      )}
    </Stack>
  );
}

function ChartCard({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <Paper withBorder p="sm" radius="md" style={{ minWidth: 0 }}>
      <Text size="sm" fw={600} mb={4}>
        {title}
      </Text>
      {children}
    </Paper>
  );
}

/** Cores from 1 up ("2.5 cores"), millicores below: axis labels stay short. */
function formatCpuAxis(milli: number): string {
  if (milli >= 1000) {
    const cores = Number((milli / 1000).toFixed(milli >= 10_000 ? 0 : 1));
    return `${cores} ${cores === 1 ? 'core' : 'cores'}`;
  }
  return formatCpu(milli);
}

const formatCount = (v: number): string => String(Math.round(v));
