import { Stack, Text, Title } from '@mantine/core';
import { ClusterList } from '@niro/protocol';
import { usePageTitle, useRouter } from '../../lib/router.js';
import { useApi } from '../../lib/use-api.js';
import { FindingView, parseFindingState, parsePolicySeverity, type FindingFilters } from './finding-list.js';

/** `/findings`: runtime policy findings of the fleet; the filters live in the query (cluster, rule, severity, state). */
export function FindingsPage() {
  usePageTitle('Findings');
  const { location, navigate } = useRouter();
  const clusters = useApi('/clusters', ClusterList);
  const filters: FindingFilters = {
    cluster: location.search.get('cluster'),
    rule: location.search.get('rule'),
    severity: parsePolicySeverity(location.search.get('severity')),
    state: parseFindingState(location.search.get('state')),
  };
  const onFiltersChange = (next: FindingFilters): void => {
    const q = new URLSearchParams(location.search);
    const put = (name: string, value: string | null): void => {
      if (value === null) q.delete(name);
      else q.set(name, value);
    };
    put('cluster', next.cluster);
    put('rule', next.rule);
    put('severity', next.severity);
    put('state', next.state === 'open' ? null : next.state);
    const qs = q.toString();
    navigate(`${location.pathname}${qs === '' ? '' : `?${qs}`}`, { replace: true });
  };
  const clusterOptions = (clusters.data?.items ?? [])
    .map((c) => ({ value: c.id, label: c.name }))
    .sort((a, b) => a.label.localeCompare(b.label));
  // A cluster named in the URL stays selectable before the list arrives.
  if (filters.cluster !== null && !clusterOptions.some((o) => o.value === filters.cluster)) {
    clusterOptions.push({ value: filters.cluster, label: filters.cluster });
  }
  return (
    <Stack gap="md">
      <Stack gap={2}>
        <Title order={2} size="h4">
          Findings
        </Title>
        <Text size="sm" c="dimmed">
          What the policy rules find in the workloads running on your clusters. Expand a finding for its rule’s
          explanation and fix.
        </Text>
      </Stack>
      <FindingView filters={filters} onFiltersChange={onFiltersChange} clusterOptions={clusterOptions} />
    </Stack>
  );
}
