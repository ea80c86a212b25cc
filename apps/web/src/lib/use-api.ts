import { useCallback, useEffect, useRef, useState } from 'react';
import type { Static, TSchema } from 'typebox';
import { apiGet, errorText } from './api.js';

export type ApiState<T> = {
  data: T | null;
  error: string | null;
  loading: boolean;
  /** Fetch again now (after a change the page made). */
  reload: () => void;
};

/**
 * GET `path` (null: nothing to fetch yet) and keep the checked reply; with `pollMs`, refresh it on
 * that interval while the page is visible. A failed refresh keeps the last data and sets `error`.
 */
export function useApi<T extends TSchema>(path: string | null, schema: T, pollMs?: number): ApiState<Static<T>> {
  const [data, setData] = useState<Static<T> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const [generation, setGeneration] = useState(0);
  const schemaRef = useRef(schema);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);

  useEffect(() => {
    if (path === null) return;
    let live = true;
    const load = async (): Promise<void> => {
      try {
        const value = await apiGet(path, schemaRef.current);
        if (!live) return;
        setData(value);
        setError(null);
      } catch (err) {
        if (live) setError(errorText(err));
      } finally {
        if (live) setLoading(false);
      }
    };
    setLoading(true);
    void load();
    if (pollMs === undefined) return () => void (live = false);
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void load();
    }, pollMs);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [path, pollMs, generation]);

  return { data, error, loading, reload };
}
