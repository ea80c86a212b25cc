import { useEffect, useState } from 'react';
import { Badge, Button, Group, NativeSelect, Stack, Table, Text, TextInput, UnstyledButton } from '@mantine/core';
import { PodPage, type Cluster, type PodRow } from '@niro/protocol';
import { apiGet } from '../../lib/api.js';
import { ListTable, LoadMore } from '../../lib/list-table.js';
import { useCursorList } from '../../lib/use-cursor-list.js';
import { useQueryParam } from '../../lib/router.js';
import { PodDrawer } from '../pods/pod-drawer.js';
import { POD_STATUSES, POD_STATUS_COLOR, isPodStatus } from '../pods/pod-links.js';
import { PageError, PageLoading } from '../shell/page-states.js';

const PAGE_SIZE = 100;
const FILTER_DELAY_MS = 300;

/**
 * A text filter kept in the address (so reload and back keep it), written there a moment after
 * typing stops rather than on every key.
 */
function useDelayedParam(name: string): [string, (v: string) => void, string] {
  const [param, setParam] = useQueryParam(name);
  const [text, setText] = useState(param ?? '');
  useEffect(() => {
    if (text === (param ?? '')) return;
    const timer = setTimeout(() => setParam(text.trim() === '' ? null : text.trim()), FILTER_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text, param, setParam]);
  return [text, setText, param ?? ''];
}

/** The cluster's pods: filters by namespace, status and name, 100 at a time, and a pod's details in a drawer. */
export function PodsTab({ cluster }: { cluster: Cluster }) {
  const [nsText, setNsText, namespace] = useDelayedParam('namespace');
  const [qText, setQText, q] = useDelayedParam('q');
  const [statusParam, setStatus] = useQueryParam('status');
  const status = isPodStatus(statusParam) ? statusParam : null;
  const [selected, setSelected] = useState<PodRow | null>(null);

  const path = (cursor: string | null): string => {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (namespace !== '') params.set('namespace', namespace);
    if (status !== null) params.set('status', status);
    if (q !== '') params.set('q', q);
    if (cursor !== null) params.set('cursor', cursor);
    return `/clusters/${encodeURIComponent(cluster.id)}/pods?${params.toString()}`;
  };
  const list = useCursorList(path(null), (cursor) => apiGet(path(cursor), PodPage));
  const { items, error } = list;

  const filtered = namespace !== '' || status !== null || q !== '';
  return (
    <Stack gap="sm">
      <Group gap="sm" align="end" wrap="wrap">
        <TextInput
          label="Namespace"
          placeholder="all"
          value={nsText}
          onChange={(e) => setNsText(e.currentTarget.value)}
        />
        <NativeSelect
          label="Status"
          data={[{ value: '', label: 'all' }, ...POD_STATUSES.map((s) => ({ value: s, label: s }))]}
          value={status ?? ''}
          onChange={(e) => setStatus(e.currentTarget.value === '' ? null : e.currentTarget.value)}
        />
        <TextInput
          label="Pod name"
          placeholder="part of the name"
          value={qText}
          onChange={(e) => setQText(e.currentTarget.value)}
        />
        <Button variant="default" onClick={list.reload}>
          Refresh
        </Button>
      </Group>
      {error !== null && <PageError error={error} />}
      {items === null ? (
        error === null && <PageLoading what="Loading pods…" />
      ) : items.length === 0 ? (
        <Text c="dimmed" data-testid="pods-empty">
          {filtered
            ? 'No pod matches the filters.'
            : cluster.capabilities?.pods === false
              ? 'No pods: the agent does not have the pods capability (see Overview → Capabilities).'
              : 'No pods reported yet: they arrive with the agent’s heartbeat.'}
        </Text>
      ) : (
        <>
          <PodTable items={items} onOpen={setSelected} />
          <LoadMore list={list} size="xs">
            <Text size="sm" c="dimmed" data-testid="pods-count">
              {items.length} pod{items.length === 1 ? '' : 's'} shown
              {list.nextCursor === null ? '' : ', more available'}
            </Text>
          </LoadMore>
        </>
      )}
      <PodDrawer pod={selected} onClose={() => setSelected(null)} />
    </Stack>
  );
}

function PodTable({ items, onOpen }: { items: PodRow[]; onOpen: (pod: PodRow) => void }) {
  return (
    <ListTable
      minWidth={960}
      striped
      highlightOnHover
      verticalSpacing={6}
      data-testid="pods-table"
      columns={['Pod', 'Status', 'Ready', 'Restarts', 'Owner', 'Node', 'Images']}
    >
      {items.map((p) => (
        <Table.Tr key={`${p.namespace}/${p.name}`} data-pod={p.name}>
          <Table.Td>
            <UnstyledButton onClick={() => onOpen(p)} aria-label={`Details of pod ${p.namespace}/${p.name}`}>
              <Text size="sm" fw={600} c="var(--mantine-color-anchor)">
                {p.name}
              </Text>
              <Text size="xs" c="dimmed">
                {p.namespace}
              </Text>
            </UnstyledButton>
          </Table.Td>
          <Table.Td style={{ whiteSpace: 'nowrap' }}>
            <Badge size="sm" variant="light" color={POD_STATUS_COLOR[p.status]}>
              {p.status}
            </Badge>
          </Table.Td>
          <Table.Td>{`${p.readyContainers}/${p.totalContainers}`}</Table.Td>
          <Table.Td>{p.restarts}</Table.Td>
          <Table.Td>{p.ownerKind === null ? '—' : `${p.ownerKind}/${p.ownerName ?? ''}`}</Table.Td>
          <Table.Td style={{ whiteSpace: 'nowrap' }}>{p.nodeName ?? '—'}</Table.Td>
          <Table.Td>
            {p.images.map((image) => (
              <Text size="xs" key={image} style={{ wordBreak: 'break-all' }}>
                {image}
              </Text>
            ))}
          </Table.Td>
        </Table.Tr>
      ))}
    </ListTable>
  );
}
