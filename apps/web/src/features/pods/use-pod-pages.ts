import { useCallback, useEffect, useRef, useState } from 'react';
import { PodPage, type PodRow } from '@niro/protocol';
import { apiGet, errorText } from '../../lib/api.js';

export type PodPages = {
  items: PodRow[];
  nextCursor: string | null;
  /** The first page of the current filters is loading. */
  loading: boolean;
  loadingMore: boolean;
  error: string | null;
  loadMore: () => void;
  reload: () => void;
};

/**
 * `GET /api/v1/pods?<query>` page by page (keyset cursor). New filters start again from the first
 * page; a page that arrives for filters no longer shown is dropped.
 */
export function usePodPages(query: string): PodPages {
  const [items, setItems] = useState<PodRow[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const current = useRef(query);
  current.current = query;

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    apiGet(`/pods?${query}`, PodPage)
      .then((page) => {
        if (!live) return;
        setItems(page.items);
        setNextCursor(page.nextCursor);
      })
      .catch((err: unknown) => {
        if (!live) return;
        setItems([]);
        setNextCursor(null);
        setError(errorText(err));
      })
      .finally(() => {
        if (live) setLoading(false);
      });
    return () => {
      live = false;
    };
  }, [query, generation]);

  const busy = useRef(false);
  const loadMore = useCallback(() => {
    if (busy.current || nextCursor === null) return;
    busy.current = true;
    setLoadingMore(true);
    const forQuery = query;
    apiGet(`/pods?${query}&cursor=${encodeURIComponent(nextCursor)}`, PodPage)
      .then((page) => {
        if (current.current !== forQuery) return;
        setItems((prev) => [...prev, ...page.items]);
        setNextCursor(page.nextCursor);
      })
      .catch((err: unknown) => {
        if (current.current === forQuery) setError(errorText(err));
      })
      .finally(() => {
        busy.current = false;
        setLoadingMore(false);
      });
  }, [query, nextCursor]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { items, nextCursor, loading, loadingMore, error, loadMore, reload };
}
