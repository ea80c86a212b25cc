import { useCallback } from 'react';
import { useRouter } from '../../lib/router.js';

/**
 * The page's query parameters and a setter that changes several at once (one history entry,
 * replaced): two useQueryParam setters in a row would each start from the same old address.
 */
export function useSearchParams(): [URLSearchParams, (updates: Record<string, string | null>) => void] {
  const { location, navigate } = useRouter();
  const set = useCallback(
    (updates: Record<string, string | null>) => {
      const params = new URLSearchParams(location.search);
      for (const [k, v] of Object.entries(updates)) {
        if (v === null || v === '') params.delete(k);
        else params.set(k, v);
      }
      const q = params.toString();
      navigate(`${location.pathname}${q === '' ? '' : `?${q}`}`, { replace: true });
    },
    [location, navigate],
  );
  return [location.search, set];
}
