import { useEffect, useMemo, useState } from 'react';
import {
  Alert,
  Badge,
  Button,
  Drawer,
  Group,
  NativeSelect,
  Stack,
  Table,
  Text,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { structuredPatch } from 'diff';
import { DeploymentRevision, type DeploymentRevisionSummary, type RevisionSource } from '@niro/protocol';
import { apiGet, errorText } from '../../lib/api.js';
import { useApi } from '../../lib/use-api.js';
import { formatTime } from '../../lib/format.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { STATUS_COLOR, StateBadge } from './deployment-ui.js';
import { FindingsTable, SeverityCounts } from './findings-panel.js';
import { LazyCodeEditor } from './lazy-code-editor.js';
import { ListTable } from '../../lib/list-table.js';

export function sourceText(source: RevisionSource): string {
  if (source.type === 'builder') return 'builder';
  if (source.type === 'yaml') return 'YAML';
  return `git ${source.commit.slice(0, 7)}`;
}

/** The revisions of a deployment, newest first, with a compare picker and a detail drawer. */
export function RevisionsSection({
  deploymentId,
  revisions,
}: {
  deploymentId: string;
  revisions: readonly DeploymentRevisionSummary[];
}) {
  const [open, setOpen] = useState<number | null>(null);
  const newest = revisions[0]?.revision ?? 0;
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  // By default compare the newest revision with the one before it.
  const left = from ?? revisions[1]?.revision ?? newest;
  const right = to ?? newest;
  const options = revisions.map((r) => ({ value: String(r.revision), label: `Revision ${r.revision}` }));

  return (
    <Stack gap="md" component="section" aria-labelledby="revisions-title" data-testid="revisions">
      <Title order={3} size="h4" id="revisions-title">
        Revisions
      </Title>
      {revisions.length === 0 ? (
        <Text c="dimmed" size="sm">
          No revision yet: the deployment has not been applied.
        </Text>
      ) : (
        <ListTable
          minWidth={860}
          striped
          data-testid="revisions-table"
          columns={[
            'Revision',
            'Status',
            'Source',
            'Author',
            'Time',
            'Findings',
            'Note',
            <VisuallyHidden key="details">Details</VisuallyHidden>,
          ]}
        >
          {revisions.map((r) => (
            <Table.Tr key={r.revision} data-revision={r.revision}>
              <Table.Td>{r.revision}</Table.Td>
              <Table.Td>
                <StateBadge value={r.status} color={STATUS_COLOR[r.status]} testId="revision-status" />
              </Table.Td>
              <Table.Td>{sourceText(r.source)}</Table.Td>
              <Table.Td>{r.createdBy ?? '—'}</Table.Td>
              <Table.Td>{formatTime(r.createdAt)}</Table.Td>
              <Table.Td>
                <SeverityCounts counts={r.findingCounts} />
              </Table.Td>
              <Table.Td data-testid="revision-note">
                {r.rollbackOf !== null && <Text size="sm">rollback of {r.rollbackOf}</Text>}
                {r.message !== null && <Text size="sm">{r.message}</Text>}
              </Table.Td>
              <Table.Td>
                <Button
                  variant="subtle"
                  size="xs"
                  onClick={() => setOpen(r.revision)}
                  aria-label={`Details of revision ${r.revision}`}
                >
                  Details
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      )}
      {revisions.length > 1 && (
        <Stack gap="xs" component="section" aria-labelledby="compare-title">
          <Title order={4} size="h5" id="compare-title">
            Compare revisions
          </Title>
          <Group gap="sm" align="flex-end">
            <NativeSelect
              label="From"
              value={String(left)}
              onChange={(e) => setFrom(Number(e.currentTarget.value))}
              data={options}
              w={160}
            />
            <NativeSelect
              label="To"
              value={String(right)}
              onChange={(e) => setTo(Number(e.currentTarget.value))}
              data={options}
              w={160}
            />
          </Group>
          <RevisionDiff deploymentId={deploymentId} from={left} to={right} />
        </Stack>
      )}
      <Drawer
        opened={open !== null}
        onClose={() => setOpen(null)}
        position="right"
        size="xl"
        title={open === null ? '' : `Revision ${open}`}
      >
        {open !== null && <RevisionDetail deploymentId={deploymentId} revision={open} />}
      </Drawer>
    </Stack>
  );
}

/** Revisions are immutable: each one is fetched once per page. */
const revisionCache = new Map<string, Promise<DeploymentRevision>>();
function loadRevision(deploymentId: string, revision: number): Promise<DeploymentRevision> {
  const key = `${deploymentId}/${revision}`;
  let p = revisionCache.get(key);
  if (p === undefined) {
    p = apiGet(`/deployments/${encodeURIComponent(deploymentId)}/revisions/${revision}`, DeploymentRevision);
    p.catch(() => revisionCache.delete(key));
    revisionCache.set(key, p);
  }
  return p;
}

type DiffLine = { kind: 'add' | 'del' | 'same' | 'hunk'; text: string };

/** A unified line diff of two revisions' manifests; added and removed lines carry + and - as well as colour. */
function RevisionDiff({ deploymentId, from, to }: { deploymentId: string; from: number; to: number }) {
  const [texts, setTexts] = useState<{ from: string; to: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setTexts(null);
    Promise.all([loadRevision(deploymentId, from), loadRevision(deploymentId, to)])
      .then(([a, b]) => live && setTexts({ from: a.manifests, to: b.manifests }))
      .catch((err: unknown) => live && setError(errorText(err)));
    return () => void (live = false);
  }, [deploymentId, from, to]);

  const lines = useMemo<DiffLine[] | null>(() => {
    if (texts === null) return null;
    const patch = structuredPatch(`revision ${from}`, `revision ${to}`, texts.from, texts.to, '', '', { context: 3 });
    const out: DiffLine[] = [];
    for (const hunk of patch.hunks) {
      out.push({ kind: 'hunk', text: `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@` });
      for (const line of hunk.lines) {
        if (line.startsWith('\\')) continue;
        out.push({ kind: line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : 'same', text: line });
      }
    }
    return out;
  }, [texts, from, to]);

  if (error !== null) return <PageError error={error} />;
  if (lines === null) return <PageLoading what="Loading the manifests…" />;
  const added = lines.filter((l) => l.kind === 'add').length;
  const removed = lines.filter((l) => l.kind === 'del').length;
  return (
    <Stack gap={4}>
      <Text size="sm" data-testid="diff-summary">
        Revision {from} → {to}:{' '}
        {lines.length === 0
          ? 'the manifests are identical'
          : `${added} line${added === 1 ? '' : 's'} added, ${removed} removed`}
      </Text>
      {lines.length > 0 && (
        <pre
          className="niro-diff"
          data-testid="revision-diff"
          aria-label={`Changes from revision ${from} to ${to}`}
          tabIndex={0}
        >
          {lines.map((l, i) => (
            <div
              key={i}
              className={`niro-diff-line${l.kind === 'add' ? ' niro-diff-add' : l.kind === 'del' ? ' niro-diff-del' : l.kind === 'hunk' ? ' niro-diff-hunk' : ''}`}
              data-kind={l.kind}
            >
              {l.text === '' ? ' ' : l.text}
            </div>
          ))}
        </pre>
      )}
    </Stack>
  );
}

/** One revision: per-object results, findings and the manifests. */
function RevisionDetail({ deploymentId, revision }: { deploymentId: string; revision: number }) {
  const state = useApi(`/deployments/${encodeURIComponent(deploymentId)}/revisions/${revision}`, DeploymentRevision);
  if (state.data === null) return state.error === null ? <PageLoading /> : <PageError error={state.error} />;
  const r = state.data;
  return (
    <Stack gap="md" data-testid="revision-detail">
      <Group gap="xs">
        <StateBadge value={r.status} color={STATUS_COLOR[r.status]} />
        <Text size="sm">
          {sourceText(r.source)} · {r.createdBy ?? 'unknown author'} · {formatTime(r.createdAt)}
          {r.rollbackOf === null ? '' : ` · rollback of ${r.rollbackOf}`}
          {r.prune ? ' · prune' : ''}
        </Text>
      </Group>
      {r.source.type === 'git' && (
        <Text size="sm">
          {r.source.url} at {r.source.ref} ({r.source.commit}), path “{r.source.path || '.'}”, {r.source.rendered}
        </Text>
      )}
      {r.error !== null && (
        <Alert color="red" title={r.error.code}>
          {r.error.message}
        </Alert>
      )}
      <Title order={4} size="h5">
        Objects
      </Title>
      {r.objects.length === 0 ? (
        <Text size="sm" c="dimmed">
          {r.status === 'pending' ? 'Waiting for the agent’s result.' : 'The agent reported no object.'}
        </Text>
      ) : (
        <ListTable minWidth={520} data-testid="revision-objects" columns={['Object', 'Result', 'Message']}>
          {r.objects.map((o, i) => (
            <Table.Tr key={i}>
              <Table.Td>
                {o.kind} {o.namespace === undefined ? '' : `${o.namespace}/`}
                {o.name}
              </Table.Td>
              <Table.Td>
                <Badge size="sm" variant="light" color={o.action === 'failed' ? 'red' : 'gray'}>
                  {o.action}
                </Badge>
              </Table.Td>
              <Table.Td>{o.message ?? ''}</Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      )}
      <Title order={4} size="h5">
        Policy findings
      </Title>
      {r.manifestErrors.map((e, i) => (
        <Text key={i} size="sm" c="red">
          {e.line === undefined ? '' : `Line ${e.line}: `}
          {e.message}
        </Text>
      ))}
      <FindingsTable findings={r.findings} />
      <Title order={4} size="h5">
        Manifests
      </Title>
      <LazyCodeEditor
        value={r.manifests}
        readOnly
        label={`Manifests of revision ${r.revision}`}
        testId="revision-manifests"
      />
    </Stack>
  );
}
