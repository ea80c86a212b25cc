import { useState } from 'react';
import { Badge, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { AuditPage } from '@niro/protocol';
import { apiGet } from '../../lib/api.js';
import { ListTable, LoadMore } from '../../lib/list-table.js';
import { useCursorList } from '../../lib/use-cursor-list.js';
import { formatTime } from '../../lib/format.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import type { SectionProps } from './settings-page.js';
import { InlineForm, roleAtLeast } from './settings-ui.js';

const PAGE_SIZE = 50;

type Filters = { actor: string; action: string };

/** The audit log, newest first, a page at a time ("Load more"), filtered by actor and action. */
export function AuditSection({ org }: SectionProps) {
  const [draft, setDraft] = useState<Filters>({ actor: '', action: '' });
  const [filters, setFilters] = useState<Filters>({ actor: '', action: '' });
  const path = (before: string | null): string => {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (filters.actor.trim() !== '') q.set('actor', filters.actor.trim());
    if (filters.action.trim() !== '') q.set('action', filters.action.trim());
    if (before !== null) q.set('before', before);
    return `/audit?${q.toString()}`;
  };
  const list = useCursorList(path(null), (before) => apiGet(path(before), AuditPage));
  const { error, loading } = list;
  const items = list.items ?? [];

  const apply = (): void => {
    setFilters({ ...draft });
    // Filter again with the same words: read the log again.
    list.reload();
  };

  return (
    <Stack>
      <Title order={3} size="h4">
        Audit log
      </Title>
      <Text size="sm" c="dimmed">
        {roleAtLeast(org.role, 'admin')
          ? 'Sign-ins, tokens, members, clusters, commands and channels of the organizations you administer, and your own account events.'
          : 'Your own account events. Admins also see what happens in their organizations.'}
      </Text>
      <InlineForm label="Filter the audit log" submitLabel="Filter" secondary onSubmit={apply}>
        <TextInput
          label="Actor"
          placeholder="email or id"
          value={draft.actor}
          onChange={(e) => setDraft({ ...draft, actor: e.currentTarget.value })}
        />
        <TextInput
          label="Action"
          placeholder="token.create"
          value={draft.action}
          onChange={(e) => setDraft({ ...draft, action: e.currentTarget.value })}
        />
      </InlineForm>
      {error !== null && <PageError error={error} title="The audit log could not be loaded" />}
      {items.length === 0 && loading && <PageLoading what="Loading the audit log…" />}
      {items.length === 0 && !loading && error === null && (
        <Text c="dimmed">No entries{filters.actor !== '' || filters.action !== '' ? ' match these filters' : ''}.</Text>
      )}
      {items.length > 0 && (
        <ListTable
          minWidth={760}
          striped
          aria-label="Audit log"
          data-testid="audit-table"
          columns={['Time', 'Actor', 'Action', 'Target', 'Outcome', 'IP']}
        >
          {items.map((e) => (
            <Table.Tr key={e.id} data-action={e.action}>
              <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(e.at)}</Table.Td>
              <Table.Td>{e.actor.label ?? e.actor.id ?? e.actor.type}</Table.Td>
              <Table.Td>
                <code>{e.action}</code>
              </Table.Td>
              <Table.Td>{e.target === null ? '–' : `${e.target.type} ${e.target.id}`}</Table.Td>
              <Table.Td>
                <Badge color={e.outcome === 'success' ? 'green' : 'red'} variant="light">
                  {e.outcome}
                </Badge>
              </Table.Td>
              <Table.Td>{e.ip ?? '–'}</Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      )}
      {/* The button spins while any page loads, a new filter's first page too. */}
      <LoadMore list={{ ...list, loadingMore: loading || list.loadingMore }} />
    </Stack>
  );
}
