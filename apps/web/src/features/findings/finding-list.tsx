import { Badge, Button, Group, NativeSelect, Stack, Table, Text, VisuallyHidden } from '@mantine/core';
import {
  FindingPage,
  Me,
  POLICY_SEVERITIES,
  PolicyRuleList,
  type PolicyRuleInfo,
  type PolicySeverity,
  type StoredFinding,
} from '@niro/protocol';
import { Fragment, useState } from 'react';
import { Link } from '../../lib/router.js';
import { LabelledSegments } from '../../lib/labelled-segments.js';
import { useApi } from '../../lib/use-api.js';
import { PageButtons, usePagedApi } from '../../lib/use-paged-api.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { FindingDetails, SEVERITY_COLOR } from './finding-details.js';

const PAGE_SIZE = 100;

export type FindingStateFilter = 'open' | 'suppressed' | 'closed';

export type FindingFilters = {
  cluster: string | null;
  rule: string | null;
  severity: PolicySeverity | null;
  state: FindingStateFilter;
};

export const DEFAULT_FINDING_FILTERS: FindingFilters = { cluster: null, rule: null, severity: null, state: 'open' };

export function parseFindingState(v: string | null): FindingStateFilter {
  return v === 'suppressed' || v === 'closed' ? v : 'open';
}

export function parsePolicySeverity(v: string | null): PolicySeverity | null {
  return POLICY_SEVERITIES.find((s) => s === v) ?? null;
}

/** Policy findings, fleet-wide or of one cluster (the cluster page's Findings tab). */
export function FindingList({ clusterId }: { clusterId?: string }) {
  const [filters, setFilters] = useState<FindingFilters>({ ...DEFAULT_FINDING_FILTERS, cluster: clusterId ?? null });
  return (
    <FindingView
      filters={{ ...filters, cluster: clusterId ?? filters.cluster }}
      onFiltersChange={setFilters}
      clusterOptions={clusterId === undefined ? [] : null}
    />
  );
}

/**
 * Filters and one page of findings, grouped by severity. `clusterOptions` null: the cluster is fixed
 * (the cluster page) and neither filtered on nor shown per row; empty: no cluster filter.
 */
export function FindingView({
  filters,
  onFiltersChange,
  clusterOptions,
}: {
  filters: FindingFilters;
  onFiltersChange: (next: FindingFilters) => void;
  clusterOptions: { value: string; label: string }[] | null;
}) {
  // The rule catalogue and who is signed in are read once per page.
  const rules = useApi('/policy/rules', PolicyRuleList);
  const me = useApi('/me', Me);
  const ruleById = new Map((rules.data?.items ?? []).map((r) => [r.id, r]));
  const key = `${filters.cluster ?? ''}|${filters.rule ?? ''}|${filters.severity ?? ''}|${filters.state}`;

  return (
    <Stack gap="sm">
      <Group gap="md" align="flex-end" wrap="wrap">
        <LabelledSegments
          id="finding-state-label"
          label="State"
          value={filters.state}
          onChange={(v) => onFiltersChange({ ...filters, state: parseFindingState(v) })}
          data={[
            { value: 'open', label: 'Open' },
            { value: 'suppressed', label: 'Suppressed' },
            { value: 'closed', label: 'Closed' },
          ]}
        />
        {clusterOptions !== null && clusterOptions.length > 0 && (
          <NativeSelect
            label="Cluster"
            size="sm"
            value={filters.cluster ?? ''}
            onChange={(e) => onFiltersChange({ ...filters, cluster: e.currentTarget.value || null })}
            data={[{ value: '', label: 'All clusters' }, ...clusterOptions]}
          />
        )}
        <NativeSelect
          label="Rule"
          size="sm"
          value={filters.rule ?? ''}
          onChange={(e) => onFiltersChange({ ...filters, rule: e.currentTarget.value || null })}
          data={ruleOptions(rules.data?.items ?? [], filters.rule)}
        />
        <NativeSelect
          label="Severity"
          size="sm"
          value={filters.severity ?? ''}
          onChange={(e) => onFiltersChange({ ...filters, severity: parsePolicySeverity(e.currentTarget.value) })}
          data={[
            { value: '', label: 'Any severity' },
            { value: 'high', label: 'High' },
            { value: 'medium', label: 'Medium or above' },
            { value: 'low', label: 'Low or above' },
            { value: 'info', label: 'Info or above' },
          ]}
        />
      </Group>
      {rules.error !== null && <PageError title="Could not load the rule catalogue" error={rules.error} />}
      <FindingPages
        key={key}
        filters={filters}
        ruleById={ruleById}
        meId={me.data?.id ?? null}
        showCluster={clusterOptions !== null}
      />
    </Stack>
  );
}

/** The catalogue's rules; a rule named in the address stays selected before the catalogue arrives. */
function ruleOptions(rules: readonly PolicyRuleInfo[], selected: string | null): { value: string; label: string }[] {
  const options = rules.map((r) => ({ value: r.id, label: r.title }));
  if (selected !== null && !options.some((o) => o.value === selected))
    options.push({ value: selected, label: selected });
  return [{ value: '', label: 'All rules' }, ...options];
}

function findingsPath(filters: FindingFilters, cursor: string | null): string {
  const q = new URLSearchParams({ limit: String(PAGE_SIZE), state: filters.state });
  if (filters.cluster !== null) q.set('cluster', filters.cluster);
  if (filters.rule !== null) q.set('rule', filters.rule);
  if (filters.severity !== null) q.set('severity', filters.severity);
  if (cursor !== null) q.set('cursor', cursor);
  return `/findings?${q.toString()}`;
}

const SEVERITY_ORDER: readonly PolicySeverity[] = ['high', 'medium', 'low', 'info'];

function FindingPages({
  filters,
  ruleById,
  meId,
  showCluster,
}: {
  filters: FindingFilters;
  ruleById: Map<string, PolicyRuleInfo>;
  meId: string | null;
  showCluster: boolean;
}) {
  const [expanded, setExpanded] = useState<string | null>(null);
  const pages = usePagedApi((cursor) => findingsPath(filters, cursor), FindingPage);
  const { data, error, loading, reload } = pages;

  if (data === null) return loading ? <PageLoading what="Loading findings…" /> : <PageError error={error ?? ''} />;
  const items = data.items;
  const groups = SEVERITY_ORDER.map((s) => ({ severity: s, items: items.filter((f) => f.severity === s) })).filter(
    (g) => g.items.length > 0,
  );
  const columns = showCluster ? 6 : 5;

  return (
    <Stack gap="sm">
      {error !== null && <PageError title="Could not refresh the findings" error={error} />}
      {items.length === 0 ? (
        <Text c="dimmed" data-testid="findings-empty">
          {emptyText(filters)}
        </Text>
      ) : (
        <Table.ScrollContainer minWidth={860}>
          <Table verticalSpacing="xs" data-testid="finding-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th w={40}>
                  <VisuallyHidden>Details</VisuallyHidden>
                </Table.Th>
                {showCluster && <Table.Th>Cluster</Table.Th>}
                <Table.Th>Object</Table.Th>
                <Table.Th>Container</Table.Th>
                <Table.Th>Field</Table.Th>
                <Table.Th>Rule</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {groups.map((g) => (
                <Fragment key={g.severity}>
                  <Table.Tr>
                    <Table.Td colSpan={columns} bg="var(--mantine-color-default-hover)">
                      <Group gap="xs">
                        <Badge color={SEVERITY_COLOR[g.severity]} variant="light" size="sm">
                          {g.severity}
                        </Badge>
                        <Text size="sm" c="dimmed">
                          {g.items.length} finding{g.items.length === 1 ? '' : 's'}
                        </Text>
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                  {g.items.map((f) => (
                    <FindingRow
                      key={f.id}
                      finding={f}
                      rule={ruleById.get(f.ruleId)}
                      open={expanded === f.id}
                      onToggle={() => setExpanded((e) => (e === f.id ? null : f.id))}
                      showCluster={showCluster}
                      columns={columns}
                      meId={meId}
                      onChanged={reload}
                    />
                  ))}
                </Fragment>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <PageButtons pages={pages} nextCursor={data.nextCursor} previousLabel="Previous page" nextLabel="Next page" />
    </Stack>
  );
}

function emptyText(filters: FindingFilters): string {
  if (filters.state === 'suppressed') return 'No suppressed findings — nothing has been accepted as it is.';
  if (filters.state === 'closed') return 'No closed findings match these filters.';
  if (filters.rule === null && filters.severity === null) {
    return 'No open findings — the workloads pass every policy rule.';
  }
  return 'No open findings match these filters.';
}

function objectName(f: StoredFinding): string {
  return `${f.object.kind} ${f.object.namespace === '' ? '' : `${f.object.namespace}/`}${f.object.name}`;
}

function FindingRow({
  finding: f,
  rule,
  open,
  onToggle,
  showCluster,
  columns,
  meId,
  onChanged,
}: {
  finding: StoredFinding;
  rule: PolicyRuleInfo | undefined;
  open: boolean;
  onToggle: () => void;
  showCluster: boolean;
  columns: number;
  meId: string | null;
  onChanged: () => void;
}) {
  const detailsId = `finding-details-${f.id}`;
  return (
    <>
      <Table.Tr data-finding={f.id} data-rule={f.ruleId}>
        <Table.Td>
          <Button
            variant="subtle"
            size="compact-xs"
            aria-expanded={open}
            aria-controls={open ? detailsId : undefined}
            aria-label={`${open ? 'Hide' : 'Show'} details of ${f.title} on ${objectName(f)}`}
            onClick={onToggle}
          >
            {open ? '▾' : '▸'}
          </Button>
        </Table.Td>
        {showCluster && (
          <Table.Td>
            <Link href={`/clusters/${encodeURIComponent(f.clusterId)}`}>{f.clusterName}</Link>
          </Table.Td>
        )}
        <Table.Td>
          <Text size="sm">{objectName(f)}</Text>
        </Table.Td>
        <Table.Td>
          <Text size="sm">{f.container ?? '–'}</Text>
        </Table.Td>
        <Table.Td>
          {f.path === undefined ? (
            <Text size="sm" c="dimmed">
              –
            </Text>
          ) : (
            <Text size="xs" ff="monospace" style={{ wordBreak: 'break-all' }}>
              {f.path}
            </Text>
          )}
        </Table.Td>
        <Table.Td>
          <Text size="sm">{rule?.title ?? f.title}</Text>
          {f.suppression !== undefined && (
            <Badge color="gray" variant="light" size="xs">
              suppressed
            </Badge>
          )}
        </Table.Td>
      </Table.Tr>
      {open && (
        <Table.Tr>
          <Table.Td colSpan={columns} id={detailsId}>
            <FindingDetails finding={f} rule={rule} meId={meId} onChanged={onChanged} />
          </Table.Td>
        </Table.Tr>
      )}
    </>
  );
}
