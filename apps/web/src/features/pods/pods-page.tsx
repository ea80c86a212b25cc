import { useEffect, useMemo, useRef, useState } from 'react';
import {
  Badge,
  CloseButton,
  Group,
  NativeSelect,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  UnstyledButton,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useVirtualizer } from '@tanstack/react-virtual';
import { ClusterList, PodPage, type PodRow } from '@niro/protocol';
import { apiGet } from '../../lib/api.js';
import { LoadMore } from '../../lib/list-table.js';
import { useCursorList } from '../../lib/use-cursor-list.js';
import { Link, usePageTitle, useSearchParams } from '../../lib/router.js';
import { useApi } from '../../lib/use-api.js';
import { formatAge } from '../fleet/format-age.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { PodDrawer } from './pod-drawer.js';
import { POD_STATUSES, POD_STATUS_COLOR, isPodStatus } from './pod-links.js';

const PAGE_SIZE = 200;
const ROW_PX = 44;
const FILTER_DELAY_MS = 300;

/** Every pod of the fleet, filtered by cluster, namespace, status, name and image; filters live in the address. */
export function PodsPage() {
  usePageTitle('Pods');
  const [params, setParams] = useSearchParams();
  const cluster = params.get('cluster') ?? '';
  const namespace = params.get('namespace') ?? '';
  const statusParam = params.get('status');
  const status = isPodStatus(statusParam) ? statusParam : '';
  const q = params.get('q') ?? '';
  const image = params.get('image') ?? '';

  const apiQuery = useMemo(() => {
    const s = new URLSearchParams();
    if (cluster !== '') s.set('cluster', cluster);
    if (namespace !== '') s.set('namespace', namespace);
    if (status !== '') s.set('status', status);
    if (q !== '') s.set('q', q);
    if (image !== '') s.set('image', image);
    s.set('limit', String(PAGE_SIZE));
    return s.toString();
  }, [cluster, namespace, status, q, image]);
  const pages = useCursorList(
    apiQuery,
    (cursor) => apiGet(`/pods?${apiQuery}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, PodPage),
    { clearOnError: true },
  );
  const rows = pages.items ?? [];
  const { nextCursor, loading, loadMore } = pages;

  const clusters = useApi('/clusters', ClusterList);
  const clusterOptions = useMemo(() => {
    const options = (clusters.data?.items ?? []).map((c) => ({ value: c.id, label: c.name }));
    if (cluster !== '' && !options.some((o) => o.value === cluster)) options.push({ value: cluster, label: cluster });
    return options;
  }, [clusters.data, cluster]);

  const [selected, setSelected] = useState<PodRow | null>(null);

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_PX,
    overscan: 10,
  });
  const items = virtualizer.getVirtualItems();
  const padTop = items[0]?.start ?? 0;
  const padBottom = items.length > 0 ? virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0) : 0;
  // Infinite scroll: near the end of what is loaded, ask for the next page.
  const lastIndex = items[items.length - 1]?.index ?? -1;
  useEffect(() => {
    if (lastIndex >= rows.length - 20 && rows.length > 0 && nextCursor !== null && !loading) loadMore();
  }, [lastIndex, rows.length, nextCursor, loading, loadMore]);

  const filtered = cluster !== '' || namespace !== '' || status !== '' || q !== '' || image !== '';

  return (
    <Stack gap="sm">
      <Title order={2} size="h4">
        Pods
      </Title>
      <Group gap="sm" align="end" wrap="wrap">
        <Select
          label="Cluster"
          placeholder={clusters.loading && clusters.data === null ? 'Loading…' : 'All clusters'}
          data={clusterOptions}
          value={cluster === '' ? null : cluster}
          onChange={(v) => setParams({ cluster: v })}
          searchable
          clearable
          nothingFoundMessage="No cluster with that name"
          error={clusters.error ?? undefined}
          miw={200}
        />
        <DebouncedFilter
          label="Namespace"
          placeholder="any"
          value={namespace}
          onCommit={(v) => setParams({ namespace: v })}
        />
        <NativeSelect
          label="Status"
          data={[{ value: '', label: 'any' }, ...POD_STATUSES.map((s) => ({ value: s, label: s }))]}
          value={status}
          onChange={(e) => setParams({ status: e.currentTarget.value })}
        />
        <DebouncedFilter
          label="Pod name"
          placeholder="part of the name"
          value={q}
          onCommit={(v) => setParams({ q: v })}
        />
        {image !== '' && (
          <Group gap={4} mb={6} data-testid="image-filter">
            <Text size="sm">Image</Text>
            <Badge variant="light" tt="none" size="lg" maw={360}>
              {image}
            </Badge>
            <CloseButton aria-label="Remove the image filter" onClick={() => setParams({ image: null })} />
          </Group>
        )}
      </Group>

      {pages.error !== null && <PageError error={pages.error} title="Pods could not be loaded" />}
      {pages.loading && rows.length === 0 ? (
        <PageLoading what="Loading pods…" />
      ) : (
        <>
          <Text size="sm" c="dimmed" data-testid="pods-count" aria-live="polite">
            {rows.length === 1 ? '1 pod' : `${rows.length} pods`}
            {pages.nextCursor !== null ? ' loaded so far' : ''}
            {pages.loading ? ' (updating…)' : ''}
          </Text>
          <div
            ref={scrollRef}
            style={{ maxHeight: 'calc(100vh - 280px)', minHeight: 160, overflow: 'auto' }}
            data-testid="pods-scroll"
          >
            <Table
              striped
              highlightOnHover
              stickyHeader
              miw={1100}
              verticalSpacing={6}
              // One line per row: the virtualiser counts on a fixed row height.
              style={{ whiteSpace: 'nowrap' }}
              data-testid="pods-table"
            >
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Cluster</Table.Th>
                  <Table.Th>Namespace</Table.Th>
                  <Table.Th>Pod</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Ready</Table.Th>
                  <Table.Th>Restarts</Table.Th>
                  <Table.Th>Node</Table.Th>
                  <Table.Th>Images</Table.Th>
                  <Table.Th>Started</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {padTop > 0 && <tr style={{ height: padTop }} aria-hidden="true" />}
                {items.map((v) => {
                  const pod = rows[v.index];
                  return pod === undefined ? null : <PodTableRow key={v.key} pod={pod} onOpen={setSelected} />;
                })}
                {padBottom > 0 && <tr style={{ height: padBottom }} aria-hidden="true" />}
              </Table.Tbody>
            </Table>
            {rows.length === 0 && !pages.loading && pages.error === null && (
              <Text c="dimmed" p="md" data-testid="pods-empty">
                {emptyText(filtered)}
              </Text>
            )}
          </div>
          <LoadMore list={pages} spinner />
        </>
      )}

      <PodDrawer pod={selected} onClose={() => setSelected(null)} />
    </Stack>
  );
}

function emptyText(filtered: boolean): string {
  if (filtered) return 'No pod matches these filters. Clear a filter to see more.';
  return 'No pods yet. Pods appear when a cluster’s agent reports them (the pods capability, on by default).';
}

function PodTableRow({ pod, onOpen }: { pod: PodRow; onOpen: (pod: PodRow) => void }) {
  const first = pod.images[0];
  const age = pod.startedAt === null ? '–' : formatAge(Date.now() - Date.parse(pod.startedAt));
  return (
    <Table.Tr
      style={{ height: ROW_PX, cursor: 'pointer' }}
      data-testid="pod-row"
      data-pod={pod.name}
      data-cluster={pod.clusterName}
      onClick={(e) => {
        // Links in the row keep their own meaning.
        if (e.target instanceof Element && e.target.closest('a') !== null) return;
        onOpen(pod);
      }}
    >
      <Table.Td>
        <Link href={`/clusters/${encodeURIComponent(pod.clusterId)}`}>{pod.clusterName}</Link>
      </Table.Td>
      <Table.Td>{pod.namespace}</Table.Td>
      <Table.Td>
        <UnstyledButton
          onClick={(e) => {
            e.stopPropagation();
            onOpen(pod);
          }}
          aria-label={`Details of ${pod.namespace}/${pod.name}`}
          fw={600}
          fz="sm"
        >
          {pod.name}
        </UnstyledButton>
      </Table.Td>
      <Table.Td>
        <Badge color={POD_STATUS_COLOR[pod.status]} variant="light" style={{ minWidth: 'max-content' }}>
          {pod.status}
        </Badge>
      </Table.Td>
      <Table.Td>{`${pod.readyContainers}/${pod.totalContainers}`}</Table.Td>
      <Table.Td>
        <Text size="sm" c={pod.restarts > 0 ? 'orange' : undefined} fw={pod.restarts > 0 ? 600 : undefined}>
          {pod.restarts}
        </Text>
      </Table.Td>
      <Table.Td>{pod.nodeName ?? '–'}</Table.Td>
      <Table.Td>
        {first === undefined ? (
          '–'
        ) : (
          <Text size="sm" truncate="end" maw={260} title={pod.images.join('\n')}>
            {first}
            {pod.images.length > 1 ? ` +${pod.images.length - 1}` : ''}
          </Text>
        )}
      </Table.Td>
      <Table.Td>{age}</Table.Td>
    </Table.Tr>
  );
}

/** A text filter that reaches the address (and the server) once typing pauses. */
function DebouncedFilter({
  label,
  placeholder,
  value,
  onCommit,
}: {
  label: string;
  placeholder: string;
  value: string;
  onCommit: (value: string) => void;
}) {
  const [draft, setDraft] = useState(value);
  const [debounced] = useDebouncedValue(draft, FILTER_DELAY_MS);
  const committed = useRef(value);
  // The address changed from elsewhere (back button, a link): show it.
  useEffect(() => {
    if (value !== committed.current) {
      committed.current = value;
      setDraft(value);
    }
  }, [value]);
  const commitRef = useRef(onCommit);
  commitRef.current = onCommit;
  useEffect(() => {
    const next = debounced.trim();
    if (next === committed.current) return;
    committed.current = next;
    commitRef.current(next);
  }, [debounced]);
  return (
    <TextInput
      label={label}
      placeholder={placeholder}
      value={draft}
      onChange={(e) => setDraft(e.currentTarget.value)}
    />
  );
}
