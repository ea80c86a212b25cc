import { Badge, Code, Stack, Table, Text } from '@mantine/core';
import type { ClusterPodDetail, Container } from '@niro/protocol';
import { Link } from '../../lib/router.js';
import { podLogsHref } from './pod-links.js';
import {
  podBound,
  requestAndLimit,
  shareOf,
  summedRequestAndLimit,
  usageAgainst,
  type ResourceName,
} from './pod-resources.js';

/** Waiting and terminated reasons that mean something is wrong (others are a normal start or end). */
const BAD_REASONS = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'InvalidImageName',
  'RunContainerError',
  'OOMKilled',
  'Error',
  'ContainerCannotRun',
]);

function stateColor(c: Container): string {
  if (c.reason !== undefined && BAD_REASONS.has(c.reason)) return 'red';
  if (c.state === 'running') return 'green';
  return c.state === 'waiting' ? 'yellow' : 'gray';
}

function probesText(c: Container): string {
  const present = (['liveness', 'readiness', 'startup'] as const).filter((p) => c.probes[p]);
  return present.length === 0 ? 'none' : present.join(', ');
}

/**
 * The containers of a pod (init containers after them): state, restarts, requests and limits,
 * probes, and a link to each one's log. Usage is measured per pod, so it is shown once, in the
 * last row, against the summed requests or limits of the pod's containers.
 */
export function PodContainers({ detail }: { detail: ClusterPodDetail }) {
  const { pod, usage, clusterId } = detail;
  const rows = [
    ...pod.containers.map((c) => ({ c, init: false })),
    ...(pod.initContainers ?? []).map((c) => ({ c, init: true })),
  ];
  if (rows.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        The agent reported no containers for this pod.
      </Text>
    );
  }
  return (
    <Stack gap={4}>
      <Text size="sm" data-testid="pod-usage-now">
        {usage === null
          ? 'No current usage: metrics-server (metrics.k8s.io) does not report this pod.'
          : `In use now, whole pod: CPU ${usageAgainst(usage.cpuMilli, podBound(pod.containers, 'cpuMilli'), 'cpuMilli')}; memory ${usageAgainst(usage.memoryBytes, podBound(pod.containers, 'memoryBytes'), 'memoryBytes')}.`}
      </Text>
      <Table.ScrollContainer minWidth={1180}>
        <Table verticalSpacing={6} fz="sm" data-testid="pod-containers">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Container</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Ready</Table.Th>
              <Table.Th>Restarts</Table.Th>
              <Table.Th>CPU request / limit</Table.Th>
              <Table.Th>Memory request / limit</Table.Th>
              <Table.Th>Last termination</Table.Th>
              <Table.Th>Probes</Table.Th>
              <Table.Th>Image</Table.Th>
              <Table.Th>Log</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map(({ c, init }) => (
              <Table.Tr
                key={`${init ? 'init' : 'main'}/${c.name}`}
                data-testid="pod-container-row"
                data-container={c.name}
              >
                <Table.Td>
                  <Stack gap={2} align="flex-start">
                    <Text size="sm" fw={600} style={{ whiteSpace: 'nowrap' }}>
                      {c.name}
                    </Text>
                    {init && (
                      <Badge size="xs" variant="outline" color="gray" style={{ flexShrink: 0 }}>
                        init
                      </Badge>
                    )}
                    {c.privileged && (
                      <Badge
                        size="xs"
                        color="orange"
                        variant="filled"
                        title="Runs privileged: it has full access to the node"
                        style={{ flexShrink: 0 }}
                        data-testid="container-privileged"
                      >
                        privileged
                      </Badge>
                    )}
                  </Stack>
                </Table.Td>
                <Table.Td>
                  <Badge color={stateColor(c)} variant="light" tt="none" style={{ minWidth: 'max-content' }}>
                    {c.reason === undefined ? c.state : `${c.state}: ${c.reason}`}
                  </Badge>
                </Table.Td>
                <Table.Td>{c.ready ? 'yes' : 'no'}</Table.Td>
                <Table.Td>
                  <Text size="sm" c={c.restarts > 0 ? 'orange' : undefined} fw={c.restarts > 0 ? 600 : undefined}>
                    {c.restarts}
                  </Text>
                </Table.Td>
                <Table.Td data-testid="container-cpu" style={{ whiteSpace: 'nowrap' }}>
                  {requestAndLimit(c, 'cpuMilli')}
                </Table.Td>
                <Table.Td data-testid="container-memory" style={{ whiteSpace: 'nowrap' }}>
                  {requestAndLimit(c, 'memoryBytes')}
                </Table.Td>
                <Table.Td>{c.lastTerminationReason ?? '–'}</Table.Td>
                <Table.Td>
                  <Text size="sm" c={probesText(c) === 'none' && !init ? 'orange' : undefined}>
                    {probesText(c)}
                  </Text>
                </Table.Td>
                <Table.Td style={{ minWidth: 220, maxWidth: 320 }}>
                  <Code style={{ wordBreak: 'break-all' }}>{c.image}</Code>
                </Table.Td>
                <Table.Td>
                  <Link
                    href={podLogsHref(clusterId, pod, c.name)}
                    aria-label={`Log of container ${c.name}`}
                    data-testid="container-logs-link"
                  >
                    Logs
                  </Link>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
          <Table.Tfoot>
            <Table.Tr data-testid="pod-usage-total">
              <Table.Td colSpan={4}>
                <Text size="sm" fw={600}>
                  Pod total
                </Text>
                <Text size="xs" c="dimmed">
                  {usage === null
                    ? 'No current usage: metrics-server (metrics.k8s.io) does not report this pod.'
                    : 'Usage is measured per pod; init containers are not counted.'}
                </Text>
              </Table.Td>
              <PodTotalCell containers={pod.containers} usage={usage?.cpuMilli ?? null} resource="cpuMilli" />
              <PodTotalCell containers={pod.containers} usage={usage?.memoryBytes ?? null} resource="memoryBytes" />
              <Table.Td colSpan={4} />
            </Table.Tr>
          </Table.Tfoot>
        </Table>
      </Table.ScrollContainer>
    </Stack>
  );
}

function PodTotalCell({
  containers,
  usage,
  resource,
}: {
  containers: readonly Container[];
  usage: number | null;
  resource: ResourceName;
}) {
  const bound = podBound(containers, resource);
  // Only a limit is a ceiling (CPU throttled, memory OOM-killed); usage above a request is normal.
  const share = usage === null || bound?.kind !== 'limit' ? null : shareOf(usage, bound);
  const color = share === null ? undefined : share >= 0.9 ? 'red' : share >= 0.75 ? 'orange' : undefined;
  return (
    <Table.Td data-testid={resource === 'cpuMilli' ? 'pod-cpu-total' : 'pod-memory-total'}>
      <Stack gap={0}>
        <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
          {summedRequestAndLimit(containers, resource)}
        </Text>
        {usage !== null && (
          <Text size="xs" c={color} fw={color === undefined ? undefined : 600} style={{ whiteSpace: 'nowrap' }}>
            in use: {usageAgainst(usage, bound, resource)}
          </Text>
        )}
      </Stack>
    </Table.Td>
  );
}
