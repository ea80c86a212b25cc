import { useCallback, useEffect, useState } from 'react';
import { Cluster } from '@niro/protocol';
import { ApiError, apiGet, errorText } from '../../lib/api.js';

export const CLUSTER_POLL_MS = 5000;

export type ClusterState = {
  cluster: Cluster | null;
  /** The last failed load; the last good cluster stays shown meanwhile. */
  error: string | null;
  /** 404: no such cluster, or one in an organization the user cannot see (the API does not say which). */
  notFound: boolean;
  /** Replace the shown cluster with a reply the page just got (after PATCH), without waiting for a poll. */
  setCluster: (cluster: Cluster) => void;
};

/**
 * GET /api/v1/clusters/{id} now and every 5 s while the page is visible. Unlike useApi it keeps
 * the status of a failure, so a 404 can be told apart from a network error.
 */
export function useCluster(id: string): ClusterState {
  const [cluster, setClusterState] = useState<Cluster | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notFound, setNotFound] = useState(false);

  useEffect(() => {
    let live = true;
    setClusterState(null);
    setNotFound(false);
    setError(null);
    const load = async (): Promise<void> => {
      try {
        const value = await apiGet(`/clusters/${encodeURIComponent(id)}`, Cluster);
        if (!live) return;
        setClusterState(value);
        setNotFound(false);
        setError(null);
      } catch (err) {
        if (!live) return;
        if (err instanceof ApiError && err.status === 404) {
          // Gone (or never visible): asking again every 5 s would not change that.
          setNotFound(true);
          clearInterval(timer);
        } else setError(errorText(err));
      }
    };
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void load();
    }, CLUSTER_POLL_MS);
    void load();
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [id]);

  const setCluster = useCallback((value: Cluster) => setClusterState(value), []);
  return { cluster, error, notFound, setCluster };
}

/** The current time, updated every `intervalMs` (heartbeat ages tick). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
