import { useCallback, useEffect, useState } from 'react';
import { Badge, Button, Code, Group, Stack, Table, Text } from '@mantine/core';
import { Command, CommandList } from '@niro/protocol';
import { apiGet, apiSend, checked, errorText } from '../../lib/api.js';
import { formatTime } from '../../lib/format.js';
import { PageError, PageLoading } from '../shell/page-states.js';

const PAGE_SIZE = 20;
const SUMMARY_MAX_CHARS = 160;

const STATE_COLOR: Record<Command['state'], string> = {
  queued: 'gray',
  delivered: 'blue',
  succeeded: 'green',
  failed: 'red',
  partial: 'orange',
  expired: 'yellow',
  cancelled: 'gray',
};

/** One line about how a command ended: the agent's error, or its result in short. */
export function commandSummary(c: Command): string {
  if (c.error !== null) return `${c.error.code}: ${c.error.message}`;
  if (c.result === null) return c.state === 'queued' || c.state === 'delivered' ? 'waiting for the agent' : '—';
  const text = JSON.stringify(c.result);
  return text.length > SUMMARY_MAX_CHARS ? `${text.slice(0, SUMMARY_MAX_CHARS)}…` : text;
}

/** The cluster's commands, newest first, 20 at a time; a ping checks the command channel end to end. */
export function CommandsTab({ clusterId }: { clusterId: string }) {
  const base = `/clusters/${encodeURIComponent(clusterId)}/commands`;
  const [items, setItems] = useState<Command[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const loadFirst = useCallback(async (): Promise<void> => {
    try {
      const page = await apiGet(`${base}?limit=${PAGE_SIZE}`, CommandList);
      setItems(page.items);
      setNextCursor(page.nextCursor);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  }, [base]);

  useEffect(() => {
    void loadFirst();
  }, [loadFirst]);

  const loadMore = async (): Promise<void> => {
    if (nextCursor === null) return;
    setBusy(true);
    try {
      const page = await apiGet(`${base}?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(nextCursor)}`, CommandList);
      setItems((prev) => [...(prev ?? []), ...page.items]);
      setNextCursor(page.nextCursor);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const ping = async (): Promise<void> => {
    setBusy(true);
    try {
      checked(Command, await apiSend('POST', base, { kind: 'ping' }), 'the new command');
      await loadFirst();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack gap="sm">
      <Group gap="sm">
        <Button variant="default" size="xs" onClick={() => void loadFirst()}>
          Refresh
        </Button>
        <Button variant="light" size="xs" loading={busy} onClick={() => void ping()}>
          Ping the agent
        </Button>
      </Group>
      {error !== null && <PageError error={error} />}
      {items === null ? (
        error === null && <PageLoading what="Loading commands…" />
      ) : items.length === 0 ? (
        <Text c="dimmed">No commands yet: log reads, deployments and pings sent to this cluster show up here.</Text>
      ) : (
        <>
          <Table.ScrollContainer minWidth={860}>
            <Table striped verticalSpacing={6} data-testid="commands-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Kind</Table.Th>
                  <Table.Th>State</Table.Th>
                  <Table.Th>Created</Table.Th>
                  <Table.Th>Round trip</Table.Th>
                  <Table.Th>Result</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((c) => (
                  <Table.Tr key={c.id} data-command={c.id}>
                    <Table.Td>
                      <Code>{c.kind}</Code>
                    </Table.Td>
                    <Table.Td>
                      <Badge size="sm" variant="light" color={STATE_COLOR[c.state]}>
                        {c.state}
                      </Badge>
                    </Table.Td>
                    <Table.Td style={{ whiteSpace: 'nowrap' }}>
                      {formatTime(c.createdAt)}
                      {c.createdBy !== null && (
                        <Text size="xs" c="dimmed">
                          by {c.createdBy}
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>{c.roundTripMs === null ? '—' : `${Math.round(c.roundTripMs)} ms`}</Table.Td>
                    <Table.Td>
                      <Text size="xs" ff="monospace" style={{ wordBreak: 'break-all' }}>
                        {commandSummary(c)}
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          {nextCursor !== null && (
            <Group>
              <Button variant="default" size="xs" loading={busy} onClick={() => void loadMore()}>
                Load more
              </Button>
            </Group>
          )}
        </>
      )}
    </Stack>
  );
}
