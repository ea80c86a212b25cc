import { useCallback, useEffect, useRef, useState } from 'react';
import { errorText } from './api.js';

export type CursorPage<I> = { items: I[]; nextCursor: string | null };

export type CursorList<I> = {
  /** What is loaded so far; null until the first page arrives. */
  items: I[] | null;
  nextCursor: string | null;
  /** The first page of the current `key` is loading. */
  loading: boolean;
  loadingMore: boolean;
  error: string | null;
  /** Appends the next page ("Load more", infinite scroll); one at a time. */
  loadMore: () => void;
  /** Fetches the first page again. */
  reload: () => void;
};

/**
 * A cursor-paged list loaded page after page. A new `key` (the filters) starts again from the
 * first page; what was shown stays until it arrives, and a page that arrives for another key is
 * dropped. `clearOnError`: a first page that fails empties the list instead of keeping the old one.
 */
export function useCursorList<I>(
  key: string,
  fetchPage: (cursor: string | null) => Promise<CursorPage<I>>,
  options: { clearOnError?: boolean } = {},
): CursorList<I> {
  const [items, setItems] = useState<I[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;
  const current = useRef(key);
  current.current = key;
  const clearOnError = options.clearOnError === true;

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    fetchRef
      .current(null)
      .then((page) => {
        if (!live) return;
        setItems(page.items);
        setNextCursor(page.nextCursor);
      })
      .catch((err: unknown) => {
        if (!live) return;
        if (clearOnError) {
          setItems([]);
          setNextCursor(null);
        }
        setError(errorText(err));
      })
      .finally(() => {
        if (live) setLoading(false);
      });
    return () => {
      live = false;
    };
  }, [key, generation, clearOnError]);

  const busy = useRef(false);
  const loadMore = useCallback(() => {
    if (busy.current || nextCursor === null) return;
    busy.current = true;
    setLoadingMore(true);
    const forKey = key;
    fetchRef
      .current(nextCursor)
      .then((page) => {
        if (current.current !== forKey) return;
        setItems((prev) => [...(prev ?? []), ...page.items]);
        setNextCursor(page.nextCursor);
      })
      .catch((err: unknown) => {
        if (current.current === forKey) setError(errorText(err));
      })
      .finally(() => {
        busy.current = false;
        setLoadingMore(false);
      });
  }, [key, nextCursor]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { items, nextCursor, loading, loadingMore, error, loadMore, reload };
}
