import { Button, Group, Loader, Table, type TableProps } from '@mantine/core';
import type { ReactNode } from 'react';

/**
 * A table that scrolls sideways below `minWidth` (narrow screens), with one header row; a false
 * column is left out (a column only some users see).
 */
export function ListTable({
  columns,
  minWidth,
  children,
  ...table
}: TableProps & { columns: (ReactNode | false)[]; minWidth: number; 'data-testid'?: string }) {
  return (
    <Table.ScrollContainer minWidth={minWidth}>
      <Table {...table}>
        <Table.Thead>
          <Table.Tr>{columns.map((c, i) => c !== false && <Table.Th key={i}>{c}</Table.Th>)}</Table.Tr>
        </Table.Thead>
        <Table.Tbody>{children}</Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/**
 * The "Load more" button of a list loaded page after page, after `children` (a count); nothing
 * when there is no more and no children.
 */
export function LoadMore({
  list,
  size,
  spinner = false,
  children,
}: {
  list: { nextCursor: string | null; loadingMore: boolean; loadMore: () => void };
  size?: 'xs';
  /** A spinner beside the button while the next page loads. */
  spinner?: boolean;
  children?: ReactNode;
}) {
  if (list.nextCursor === null && children === undefined) return null;
  return (
    <Group gap={children === undefined ? undefined : 'sm'}>
      {children}
      {list.nextCursor !== null && (
        <Button variant="default" size={size} loading={list.loadingMore} onClick={list.loadMore}>
          Load more
        </Button>
      )}
      {spinner && list.loadingMore && <Loader size="xs" />}
    </Group>
  );
}
