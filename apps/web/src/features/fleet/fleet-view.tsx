import { Suspense, use, useEffect, useMemo, useRef, useState } from 'react';
import { Badge, Group, NativeSelect, Table, Text, TextInput } from '@mantine/core';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { FleetItem } from '@niro/protocol';
import { parseFleet, type FleetSnapshot } from '../../lib/fleet-data.js';
import { formatBytes, formatCpu } from '../../lib/format.js';
import { apiFetch, errorText } from '../../lib/http.js';
import { Link } from '../../lib/router.js';
import { formatAge } from './format-age.js';

export const POLL_INTERVAL_MS = 5000;
const ROW_HEIGHT_PX = 44;
/** Rows the server sends with the fleet's data; the rest stream right after (below the fold anyway). */
const FIRST_ROWS = 40;

const STATUS_COLOR: Record<FleetItem['status'], string> = {
  critical: 'red',
  warning: 'yellow',
  unknown: 'gray',
  offline: 'dark',
  pending: 'blue',
  healthy: 'green',
};
/** Worst first: the order of the status sort and of the filter. */
const STATUS_RANK: Record<FleetItem['status'], number> = {
  critical: 0,
  offline: 1,
  unknown: 2,
  warning: 3,
  pending: 4,
  healthy: 5,
};
const STATUSES = Object.keys(STATUS_RANK);
const ENVIRONMENTS = ['production', 'staging', 'dev', 'unspecified'];

type Sort = 'status' | 'name' | 'heartbeat';

/**
 * The fleet table. The first render (server, then hydration) shows every row as plain HTML so
 * the page works without JavaScript; once mounted it virtualises the rows, ticks the heartbeat
 * ages and polls GET /api/v1/fleet with If-None-Match.
 */
export function FleetView({ initial }: { initial: FleetSnapshot }) {
  const [snapshot, setSnapshot] = useState(initial);
  const [mounted, setMounted] = useState(false);
  // The server's clock for the first render (identical on both sides), the browser's after that.
  const [nowMs, setNowMs] = useState(() => Date.parse(initial.fleet.generatedAt));
  const [status, setStatus] = useState('all');
  const [environment, setEnvironment] = useState('all');
  const [label, setLabel] = useState('all');
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<Sort>('status');
  const [pollError, setPollError] = useState<string | null>(null);
  const etag = useRef(initial.etag);

  useEffect(() => {
    setMounted(true);
    setNowMs(Date.now());
    const tick = setInterval(() => setNowMs(Date.now()), 1000);
    let stopped = false;
    const poll = async (): Promise<void> => {
      try {
        // apiFetch: the session cookie, no cache, a 401 to sign-in and back, the server's words on errors.
        const res = await apiFetch('/fleet', { headers: { 'if-none-match': etag.current } });
        if (res.status === 304) {
          setPollError(null);
          return;
        }
        const fleet = parseFleet(await res.json());
        etag.current = res.headers.get('etag') ?? '';
        if (!stopped) setSnapshot({ fleet, etag: etag.current });
        setPollError(null);
      } catch (err) {
        setPollError(errorText(err));
      }
    };
    const timer = setInterval(() => void poll(), POLL_INTERVAL_MS);
    return () => {
      stopped = true;
      clearInterval(tick);
      clearInterval(timer);
    };
  }, []);

  const rows = useMemo(() => {
    const q = query.trim().toLowerCase();
    const picked = snapshot.fleet.clusters.filter(
      (c) =>
        (status === 'all' || c.status === status) &&
        (environment === 'all' || c.environment === environment) &&
        (label === 'all' || Object.entries(c.labels).some(([k, v]) => `${k}=${v}` === label)) &&
        (q === '' ||
          c.name.toLowerCase().includes(q) ||
          Object.entries(c.labels).some(([k, v]) => `${k}=${v}`.toLowerCase().includes(q))),
    );
    const byName = (a: FleetItem, b: FleetItem): number => a.name.localeCompare(b.name);
    const heartbeat = (c: FleetItem): number => (c.lastHeartbeatAt === null ? 0 : Date.parse(c.lastHeartbeatAt));
    if (sort === 'name') picked.sort(byName);
    else if (sort === 'heartbeat') picked.sort((a, b) => heartbeat(a) - heartbeat(b) || byName(a, b));
    else picked.sort((a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status] || byName(a, b));
    return picked;
  }, [snapshot, status, environment, label, query, sort]);
  const labelChoices = useMemo(() => {
    const pairs = new Set<string>();
    for (const c of snapshot.fleet.clusters) for (const [k, v] of Object.entries(c.labels)) pairs.add(`${k}=${v}`);
    return ['all', ...[...pairs].sort()];
  }, [snapshot]);

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT_PX,
    overscan: 12,
  });
  const items = mounted ? virtualizer.getVirtualItems() : null;
  const padTop = items !== null && items.length > 0 ? (items[0]?.start ?? 0) : 0;
  const padBottom =
    items !== null && items.length > 0 ? virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0) : 0;
  const visible = items === null ? rows : items.flatMap((v) => rows[v.index] ?? []);
  const totals = snapshot.fleet.totals;

  return (
    <section aria-label="Clusters">
      <style dangerouslySetInnerHTML={{ __html: FLEET_ROW_CSS }} />
      <Group gap="lg" mb="sm" data-testid="fleet-totals">
        <Text size="sm">
          <b>{totals.clusters}</b> clusters
        </Text>
        {(['critical', 'warning', 'offline', 'unknown', 'healthy'] as const).map((s) => (
          // A div: a Badge is a div, which a <p> (Text's default) cannot contain; the browser's parser
          // would close the <p> early and the hydrated tree would not match the server's.
          <Text size="sm" component="div" key={s}>
            <Badge color={STATUS_COLOR[s]} variant="light" size="sm">
              {s}
            </Badge>{' '}
            {totals.byStatus[s] ?? 0}
          </Text>
        ))}
        <Text size="sm">{totals.nodes} nodes</Text>
        <Text size="sm">{totals.pods} pods</Text>
        {pollError !== null && (
          <Text size="sm" c="red" role="status">
            Update failed: {pollError}
          </Text>
        )}
      </Group>
      <Group gap="sm" mb="sm" align="end">
        <TextInput
          label="Search"
          placeholder="name or label=value"
          value={query}
          onChange={(e) => setQuery(e.currentTarget.value)}
          disabled={!mounted}
        />
        <NativeSelect
          label="Status"
          data={['all', ...STATUSES]}
          value={status}
          onChange={(e) => setStatus(e.currentTarget.value)}
          disabled={!mounted}
        />
        <NativeSelect
          label="Environment"
          data={['all', ...ENVIRONMENTS]}
          value={environment}
          onChange={(e) => setEnvironment(e.currentTarget.value)}
          disabled={!mounted}
        />
        <NativeSelect
          label="Label"
          data={labelChoices}
          value={label}
          onChange={(e) => setLabel(e.currentTarget.value)}
          disabled={!mounted}
        />
        <NativeSelect
          label="Sort"
          data={[
            { value: 'status', label: 'Status (worst first)' },
            { value: 'name', label: 'Name' },
            { value: 'heartbeat', label: 'Oldest heartbeat' },
          ]}
          value={sort}
          onChange={(e) =>
            setSort(
              e.currentTarget.value === 'name' || e.currentTarget.value === 'heartbeat'
                ? e.currentTarget.value
                : 'status',
            )
          }
          disabled={!mounted}
        />
      </Group>
      <div ref={scrollRef} style={{ maxHeight: 'calc(100vh - 220px)', minHeight: 200, overflow: 'auto' }}>
        <Table
          striped
          highlightOnHover
          stickyHeader
          verticalSpacing={6}
          className="niro-fleet-table"
          data-testid="fleet-table"
        >
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Cluster</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Environment</Table.Th>
              <Table.Th>Kubernetes</Table.Th>
              <Table.Th>Nodes</Table.Th>
              <Table.Th>Pods</Table.Th>
              <Table.Th>CPU</Table.Th>
              <Table.Th>Memory</Table.Th>
              <Table.Th>Incidents</Table.Th>
              <Table.Th>Agent</Table.Th>
              <Table.Th>Heartbeat</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {padTop > 0 && <tr style={{ height: padTop }} aria-hidden="true" />}
            {items === null ? (
              <>
                {rows.slice(0, FIRST_ROWS).map((c) => (
                  <ClusterRow key={c.id} cluster={c} nowMs={nowMs} />
                ))}
                {rows.length > FIRST_ROWS && (
                  <Suspense fallback={null}>
                    <LaterRows rows={rows.slice(FIRST_ROWS)} nowMs={nowMs} after={initial.rest} />
                  </Suspense>
                )}
              </>
            ) : (
              visible.map((c) => <ClusterRow key={c.id} cluster={c} nowMs={nowMs} />)
            )}
            {padBottom > 0 && <tr style={{ height: padBottom }} aria-hidden="true" />}
          </Table.Tbody>
        </Table>
        {rows.length === 0 && (
          <Text c="dimmed" p="md">
            {snapshot.fleet.clusters.length === 0 ? 'No clusters yet.' : 'No cluster matches the filters.'}
          </Text>
        )}
      </div>
    </section>
  );
}

/**
 * One row, as plain elements with Mantine's own classes (Table, Text, Badge, Group) and the
 * variables those classes read set once in FLEET_ROW_CSS: the same look, but the server renders
 * 1,000 of these in a fraction of the time the components take (their theme and style resolution
 * per cell dominated the streamed fleet), and the page carries no style attribute per cell.
 */
const TR = Table.classes.tr ?? '';
const TD = Table.classes.td ?? '';
const TEXT = `mantine-focus-auto ${Text.classes.root ?? ''}`;
const BADGE = Badge.classes.root ?? '';
const BADGE_LABEL = Badge.classes.label ?? '';
const GROUP = Group.classes.root ?? '';
const BADGE_COLORS = [...new Set([...Object.values(STATUS_COLOR), 'red', 'orange', 'yellow'])];
const BORDER = 'calc(0.0625rem * var(--mantine-scale)) solid transparent';

export const FLEET_ROW_CSS = [
  `.niro-row{height:${ROW_HEIGHT_PX}px}`,
  '.niro-sm{--text-fz:var(--mantine-font-size-sm);--text-lh:var(--mantine-line-height-sm)}',
  '.niro-xs{--text-fz:var(--mantine-font-size-xs);--text-lh:var(--mantine-line-height-xs)}',
  '.niro-name{font-weight:600}',
  // Sideways scrolling rather than squeezed cells on a tablet: rows keep one height (the virtualiser's).
  '.niro-fleet-table{min-width:1150px}',
  '.niro-fleet-table td,.niro-fleet-table th{white-space:nowrap}',
  // A badge's label clips with an ellipsis, which lets the table squeeze its column to nothing.
  `.niro-fleet-table .${BADGE}{min-width:max-content}`,
  '.niro-cluster-link{color:var(--mantine-color-anchor);text-decoration:none}',
  '.niro-cluster-link:hover{text-decoration:underline}',
  '.niro-cluster-link:focus-visible{outline:2px solid var(--mantine-primary-color-filled);outline-offset:2px}',
  '.niro-dimmed{color:var(--mantine-color-dimmed)}',
  '.niro-group{--group-gap:calc(0.25rem * var(--mantine-scale));--group-align:center;--group-justify:flex-start;--group-wrap:wrap}',
  ...BADGE_COLORS.flatMap((c) => [
    `.niro-badge-filled-${c}{--badge-bg:var(--mantine-color-${c}-filled);--badge-color:var(--mantine-color-white);--badge-bd:${BORDER}}`,
    `.niro-badge-light-${c}{--badge-bg:var(--mantine-color-${c}-light);--badge-color:var(--mantine-color-${c}-light-color);--badge-bd:${BORDER}}`,
  ]),
].join('');

function RowBadge({
  color,
  variant,
  children,
  testId,
}: {
  color: string;
  variant: 'filled' | 'light';
  children: string;
  testId?: string;
}) {
  return (
    <div className={`${BADGE} niro-badge-${variant}-${color}`} data-variant={variant} data-testid={testId}>
      <span className={BADGE_LABEL}>{children}</span>
    </div>
  );
}

/** The rows below the first screen: on the server they wait for `after`, so the data and the first rows leave first. */
function LaterRows({ rows, nowMs, after }: { rows: FleetItem[]; nowMs: number; after: Promise<void> | undefined }) {
  if (after !== undefined) use(after);
  return rows.map((c) => <ClusterRow key={c.id} cluster={c} nowMs={nowMs} />);
}

/** "34% of 4 cores": use against capacity, or requests when metrics-server reports no usage. */
function shareOf(used: number | null, requested: number, capacity: number, format: (n: number) => string): string {
  if (capacity <= 0) return '—';
  const pct = (n: number): string => `${Math.round((n / capacity) * 100)}%`;
  return used === null ? `${pct(requested)} req. of ${format(capacity)}` : `${pct(used)} of ${format(capacity)}`;
}

const CAPABILITY_NAMES: [keyof NonNullable<FleetItem['capabilities']>, string][] = [
  ['logs', 'logs'],
  ['apply', 'apply'],
  ['selfUpdate', 'self-update'],
];

function ClusterRow({ cluster: c, nowMs }: { cluster: FleetItem; nowMs: number }) {
  const labels = Object.entries(c.labels);
  const { high, medium, low } = c.openIncidents;
  return (
    <tr
      className={`${TR} niro-row`}
      data-with-row-border="true"
      data-striped="odd"
      data-hover="true"
      data-cluster={c.name}
      data-status={c.status}
    >
      <td className={TD}>
        <p className={`${TEXT} niro-sm niro-name`} data-size="sm">
          <Link href={`/clusters/${encodeURIComponent(c.id)}`} className="niro-cluster-link">
            {c.name}
          </Link>
        </p>
        {labels.length > 0 && (
          <p className={`${TEXT} niro-xs niro-dimmed`} data-size="xs">
            {labels.map(([k, v]) => `${k}=${v}`).join(' ')}
          </p>
        )}
      </td>
      <td className={TD}>
        <RowBadge color={STATUS_COLOR[c.status]} variant="light" testId="status">
          {c.status}
        </RowBadge>
      </td>
      <td className={TD}>{c.environment}</td>
      <td className={TD}>{c.kubernetesVersion ?? '—'}</td>
      <td className={TD}>{`${c.summary.nodesReady}/${c.summary.nodesTotal}`}</td>
      <td className={TD}>{`${c.summary.podsRunning}/${c.summary.podsTotal}`}</td>
      <td className={TD}>
        {shareOf(c.summary.cpuUsageMilli, c.summary.cpuRequestsMilli, c.summary.cpuCapacityMilli, formatCpu)}
      </td>
      <td className={TD}>
        {shareOf(c.summary.memoryUsageBytes, c.summary.memoryRequestsBytes, c.summary.memoryCapacityBytes, formatBytes)}
      </td>
      <td className={TD}>
        {high + medium + low === 0 ? (
          <p className={`${TEXT} niro-sm niro-dimmed`} data-size="sm">
            none
          </p>
        ) : (
          <div className={`${GROUP} niro-group`}>
            {high > 0 && <RowBadge color="red" variant="light">{`${high} high`}</RowBadge>}
            {medium > 0 && <RowBadge color="orange" variant="light">{`${medium} medium`}</RowBadge>}
            {low > 0 && <RowBadge color="yellow" variant="light">{`${low} low`}</RowBadge>}
          </div>
        )}
      </td>
      <td className={TD}>
        {c.agentVersion ?? '—'}
        {c.capabilities !== null && c.capabilities !== undefined && (
          <p className={`${TEXT} niro-xs niro-dimmed`} data-size="xs">
            {CAPABILITY_NAMES.filter(([k]) => c.capabilities?.[k] === true)
              .map(([, name]) => name)
              .join(' · ') || 'read-only'}
          </p>
        )}
      </td>
      <td className={TD}>{c.lastHeartbeatAt === null ? 'never' : formatAge(nowMs - Date.parse(c.lastHeartbeatAt))}</td>
    </tr>
  );
}
