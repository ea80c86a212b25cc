import { Badge, Group, NativeSelect, Stack, Table, Text } from '@mantine/core';
import { INCIDENT_TYPES, IncidentPage, type Incident, type IncidentSeverity } from '@niro/protocol';
import { useState } from 'react';
import { LabelledSegments } from '../../lib/labelled-segments.js';
import { PageButtons, usePagedApi } from '../../lib/use-paged-api.js';
import { Link } from '../../lib/router.js';
import { formatTime } from '../../lib/format.js';
import { formatAge } from '../fleet/format-age.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { SEVERITY_COLOR, STATE_COLOR, ageOf, typeLabel } from './incident-format.js';

export const INCIDENT_POLL_MS = 5_000;
const PAGE_SIZE = 50;

export type IncidentStateFilter = 'open' | 'resolved' | 'all';

export type IncidentFilters = {
  state: IncidentStateFilter;
  severity: IncidentSeverity | null;
  type: string | null;
};

export const DEFAULT_INCIDENT_FILTERS: IncidentFilters = { state: 'open', severity: null, type: null };

const SEVERITIES: readonly IncidentSeverity[] = ['high', 'medium', 'low'];

export function parseStateFilter(v: string | null): IncidentStateFilter {
  return v === 'resolved' || v === 'all' ? v : 'open';
}

export function parseSeverity(v: string | null): IncidentSeverity | null {
  return SEVERITIES.find((s) => s === v) ?? null;
}

export function parseType(v: string | null): string | null {
  return INCIDENT_TYPES.find((t) => t === v) ?? null;
}

/** Incidents, fleet-wide or of one cluster (the cluster page's Incidents tab). */
export function IncidentList({ clusterId }: { clusterId?: string }) {
  const [filters, setFilters] = useState<IncidentFilters>(DEFAULT_INCIDENT_FILTERS);
  return <IncidentTable clusterId={clusterId} filters={filters} onFiltersChange={setFilters} />;
}

/** The filters and one page of incidents; the filters are the caller's (URL or state). */
export function IncidentTable({
  clusterId,
  filters,
  onFiltersChange,
}: {
  clusterId?: string;
  filters: IncidentFilters;
  onFiltersChange: (next: IncidentFilters) => void;
}) {
  const key = `${clusterId ?? ''}|${filters.state}|${filters.severity ?? ''}|${filters.type ?? ''}`;
  return (
    <Stack gap="sm">
      <Group gap="md" align="flex-end" wrap="wrap">
        <LabelledSegments
          id="incident-state-label"
          label="State"
          value={filters.state}
          onChange={(v) => onFiltersChange({ ...filters, state: parseStateFilter(v) })}
          data={[
            { value: 'open', label: 'Open' },
            { value: 'resolved', label: 'Resolved' },
            { value: 'all', label: 'All' },
          ]}
        />
        <NativeSelect
          label="Severity"
          size="sm"
          value={filters.severity ?? ''}
          onChange={(e) => onFiltersChange({ ...filters, severity: parseSeverity(e.currentTarget.value) })}
          data={[
            { value: '', label: 'Any severity' },
            { value: 'high', label: 'High' },
            { value: 'medium', label: 'Medium or above' },
            { value: 'low', label: 'Low or above' },
          ]}
        />
        <NativeSelect
          label="Type"
          size="sm"
          value={filters.type ?? ''}
          onChange={(e) => onFiltersChange({ ...filters, type: parseType(e.currentTarget.value) })}
          data={[{ value: '', label: 'Any type' }, ...INCIDENT_TYPES.map((t) => ({ value: t, label: typeLabel(t) }))]}
        />
      </Group>
      <IncidentPages key={key} clusterId={clusterId} filters={filters} />
    </Stack>
  );
}

function incidentsPath(clusterId: string | undefined, filters: IncidentFilters, cursor: string | null): string {
  const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (filters.state !== 'all') q.set('state', filters.state);
  if (filters.severity !== null) q.set('severity', filters.severity);
  if (filters.type !== null) q.set('type', filters.type);
  if (clusterId !== undefined) q.set('cluster', clusterId);
  if (cursor !== null) q.set('cursor', cursor);
  return `/incidents?${q.toString()}`;
}

/** One page at a time; the open page refreshes every 5 s. Remounted (back to page 1) when a filter changes. */
function IncidentPages({ clusterId, filters }: { clusterId?: string; filters: IncidentFilters }) {
  const pages = usePagedApi((cursor) => incidentsPath(clusterId, filters, cursor), IncidentPage, INCIDENT_POLL_MS);
  const { data, error, loading } = pages;

  if (data === null) return loading ? <PageLoading what="Loading incidents…" /> : <PageError error={error ?? ''} />;
  const now = Date.now();
  return (
    <Stack gap="sm">
      {error !== null && <PageError title="Could not refresh the incidents" error={error} />}
      {data.items.length === 0 ? (
        <Text c="dimmed" data-testid="incidents-empty">
          {emptyText(filters, clusterId !== undefined)}
        </Text>
      ) : (
        <Table.ScrollContainer minWidth={900}>
          <Table striped highlightOnHover verticalSpacing="xs" data-testid="incident-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Severity</Table.Th>
                <Table.Th>State</Table.Th>
                {clusterId === undefined && <Table.Th>Cluster</Table.Th>}
                <Table.Th>Type</Table.Th>
                <Table.Th>Title</Table.Th>
                <Table.Th>Opened</Table.Th>
                <Table.Th>Resolved</Table.Th>
                <Table.Th>Acknowledged by</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((i) => (
                <IncidentRow key={i.id} incident={i} now={now} showCluster={clusterId === undefined} />
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <PageButtons
        pages={pages}
        nextCursor={data.nextCursor}
        previousLabel="Newer incidents"
        nextLabel="Older incidents"
      />
    </Stack>
  );
}

function emptyText(filters: IncidentFilters, oneCluster: boolean): string {
  const where = oneCluster ? 'this cluster' : 'the fleet';
  if (filters.state === 'open' && filters.severity === null && filters.type === null) {
    return `No open incidents — ${where} is quiet. Resolved ones are under "Resolved".`;
  }
  return `No incidents match these filters in ${where}.`;
}

function IncidentRow({ incident: i, now, showCluster }: { incident: Incident; now: number; showCluster: boolean }) {
  return (
    <Table.Tr data-incident={i.id} data-state={i.state}>
      <Table.Td>
        <Badge color={SEVERITY_COLOR[i.severity]} variant="light" size="sm">
          {i.severity}
        </Badge>
      </Table.Td>
      <Table.Td>
        <Badge color={STATE_COLOR[i.state]} variant={i.state === 'firing' ? 'filled' : 'light'} size="sm">
          {i.state}
        </Badge>
      </Table.Td>
      {showCluster && (
        <Table.Td>
          {i.clusterId === null ? (
            <Text size="sm" c="dimmed">
              Fleet-wide
            </Text>
          ) : (
            <Link href={`/clusters/${encodeURIComponent(i.clusterId)}`}>{i.clusterName ?? i.clusterId}</Link>
          )}
        </Table.Td>
      )}
      <Table.Td>
        <Text size="sm">{typeLabel(i.type)}</Text>
      </Table.Td>
      <Table.Td>
        <Link href={`/incidents/${encodeURIComponent(i.id)}`}>{i.title}</Link>
      </Table.Td>
      <Table.Td title={formatTime(i.openedAt)}>
        <Text size="sm">{formatAge(ageOf(i.openedAt, now))}</Text>
      </Table.Td>
      <Table.Td title={i.resolvedAt === null ? undefined : formatTime(i.resolvedAt)}>
        <Text size="sm" c={i.resolvedAt === null ? 'dimmed' : undefined}>
          {i.resolvedAt === null ? '–' : formatAge(ageOf(i.resolvedAt, now))}
        </Text>
      </Table.Td>
      <Table.Td>
        <Text size="sm" c={i.acknowledgedBy === null ? 'dimmed' : undefined}>
          {i.acknowledgedBy ?? '–'}
        </Text>
      </Table.Td>
    </Table.Tr>
  );
}
