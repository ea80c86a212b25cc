import { Button, Group, Text } from '@mantine/core';
import { useState } from 'react';
import type { Static, TSchema } from 'typebox';
import { useApi, type ApiState } from './use-api.js';

export type PagedApiState<T> = ApiState<T> & {
  /** 1 for the first page. */
  page: number;
  previous: () => void;
  next: (cursor: string | null) => void;
};

/**
 * One page of a cursor-paged list at a time (polled with `pollMs`), with the way back: the cursors
 * of the pages before the open one are kept, the first page has none. Remount (a `key`) to start
 * again from the first page when the filters change.
 */
export function usePagedApi<T extends TSchema>(
  pathOf: (cursor: string | null) => string,
  schema: T,
  pollMs?: number,
): PagedApiState<Static<T>> {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const state = useApi(pathOf(cursors[cursors.length - 1] ?? null), schema, pollMs);
  return {
    ...state,
    page: cursors.length,
    previous: () => setCursors((c) => c.slice(0, -1)),
    next: (cursor) => {
      if (cursor !== null) setCursors((c) => [...c, cursor]);
    },
  };
}

/** Previous and next buttons and the page number; nothing while there is only one page. */
export function PageButtons({
  pages,
  nextCursor,
  previousLabel,
  nextLabel,
}: {
  pages: Pick<PagedApiState<unknown>, 'page' | 'previous' | 'next'>;
  nextCursor: string | null;
  previousLabel: string;
  nextLabel: string;
}) {
  if (pages.page <= 1 && nextCursor === null) return null;
  return (
    <Group gap="xs">
      <Button variant="default" size="xs" disabled={pages.page <= 1} onClick={pages.previous}>
        {previousLabel}
      </Button>
      <Button variant="default" size="xs" disabled={nextCursor === null} onClick={() => pages.next(nextCursor)}>
        {nextLabel}
      </Button>
      <Text size="xs" c="dimmed">
        Page {pages.page}
      </Text>
    </Group>
  );
}
