import { Table, Text } from '@mantine/core';
import type { KubeEvent } from '@niro/protocol';
import { formatTime } from '../../lib/format.js';
import { ListTable } from '../../lib/list-table.js';
import { formatAge } from '../fleet/format-age.js';

/**
 * Kubernetes events, in the order given. With `now`, "last seen" is an age (the cluster's live
 * events); without, the time (an incident's evidence, captured earlier). `compact`: inside a card.
 */
export function EventsTable({
  events,
  now,
  compact = false,
  'data-testid': testId,
}: {
  events: readonly KubeEvent[];
  now?: number;
  compact?: boolean;
  'data-testid'?: string;
}) {
  return (
    <ListTable
      minWidth={compact ? 700 : 900}
      striped={!compact}
      verticalSpacing={compact ? 4 : 6}
      fz={compact ? 'sm' : undefined}
      data-testid={testId}
      columns={['Last seen', 'Object', 'Reason', 'Message', 'Count']}
    >
      {events.map((e, i) => {
        const last = Date.parse(e.lastTimestamp);
        return (
          <Table.Tr key={`${e.namespace}/${e.involvedObject.kind}/${e.involvedObject.name}/${e.reason}/${i}`}>
            <Table.Td title={formatTime(e.lastTimestamp)} style={{ whiteSpace: 'nowrap' }}>
              {now === undefined
                ? formatTime(e.lastTimestamp)
                : Number.isNaN(last)
                  ? e.lastTimestamp
                  : formatAge(now - last)}
            </Table.Td>
            <Table.Td>
              <Text size="sm">{`${e.involvedObject.kind}/${e.involvedObject.name}`}</Text>
              <Text size="xs" c="dimmed">
                {e.namespace}
              </Text>
            </Table.Td>
            <Table.Td>
              <Text size="sm" fw={600} c="orange">
                {e.reason}
              </Text>
            </Table.Td>
            <Table.Td>
              <Text size="sm" style={{ wordBreak: 'break-word' }}>
                {e.message}
              </Text>
            </Table.Td>
            <Table.Td>{e.count}</Table.Td>
          </Table.Tr>
        );
      })}
    </ListTable>
  );
}
