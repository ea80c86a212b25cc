import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Badge, Button, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { AuditPage, type AuditEntry } from '@niro/protocol';
import { apiGet, errorText } from '../../lib/api.js';
import { formatTime } from '../../lib/format.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import type { SectionProps } from './settings-page.js';
import { roleAtLeast } from './settings-ui.js';

const PAGE_SIZE = 50;

type Filters = { actor: string; action: string };

/** The audit log, newest first, a page at a time ("Load more"), filtered by actor and action. */
export function AuditSection({ org }: SectionProps) {
  const [draft, setDraft] = useState<Filters>({ actor: '', action: '' });
  const [filters, setFilters] = useState<Filters>({ actor: '', action: '' });
  const [items, setItems] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(
    async (before: string | null, append: boolean, live: () => boolean = () => true): Promise<void> => {
      const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (filters.actor.trim() !== '') q.set('actor', filters.actor.trim());
      if (filters.action.trim() !== '') q.set('action', filters.action.trim());
      if (before !== null) q.set('before', before);
      setLoading(true);
      try {
        const page = await apiGet(`/audit?${q.toString()}`, AuditPage);
        if (!live()) return;
        setItems((prev) => (append ? [...prev, ...page.items] : page.items));
        setCursor(page.nextCursor);
        setError(null);
      } catch (err) {
        if (live()) setError(errorText(err));
      } finally {
        if (live()) setLoading(false);
      }
    },
    [filters],
  );

  useEffect(() => {
    let live = true;
    void load(null, false, () => live);
    return () => void (live = false);
  }, [load]);

  const apply = (e: FormEvent): void => {
    e.preventDefault();
    setFilters({ ...draft });
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
      <form onSubmit={apply} aria-label="Filter the audit log">
        <Group align="flex-end" gap="xs" wrap="wrap">
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
          <Button type="submit" variant="default">
            Filter
          </Button>
        </Group>
      </form>
      {error !== null && <PageError error={error} title="The audit log could not be loaded" />}
      {items.length === 0 && loading && <PageLoading what="Loading the audit log…" />}
      {items.length === 0 && !loading && error === null && (
        <Text c="dimmed">No entries{filters.actor !== '' || filters.action !== '' ? ' match these filters' : ''}.</Text>
      )}
      {items.length > 0 && (
        <Table.ScrollContainer minWidth={760}>
          <Table striped aria-label="Audit log" data-testid="audit-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Time</Table.Th>
                <Table.Th>Actor</Table.Th>
                <Table.Th>Action</Table.Th>
                <Table.Th>Target</Table.Th>
                <Table.Th>Outcome</Table.Th>
                <Table.Th>IP</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
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
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {cursor !== null && (
        <Group>
          <Button variant="default" loading={loading} onClick={() => void load(cursor, true)}>
            Load more
          </Button>
        </Group>
      )}
    </Stack>
  );
}
