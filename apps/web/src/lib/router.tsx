import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { MouseEvent } from 'react';

/** The current location as the pages read it: path without the query, and the query. */
export type Location = { pathname: string; search: URLSearchParams; href: string };

type RouterValue = { location: Location; navigate: (href: string, options?: { replace?: boolean }) => void };

const RouterContext = createContext<RouterValue | null>(null);

function parseHref(href: string): Location {
  const url = new URL(href, 'http://niro.invalid');
  return { pathname: url.pathname, search: url.searchParams, href: `${url.pathname}${url.search}` };
}

/**
 * A small history router: the server renders the page for `initialHref`, the browser then moves
 * between pages with pushState (no reload, the fleet's poller and the session survive) and follows
 * the back and forward buttons.
 */
export function RouterProvider({ initialHref, children }: { initialHref: string; children: ReactNode }) {
  const [href, setHref] = useState(initialHref);
  useEffect(() => {
    const onPop = (): void => setHref(`${window.location.pathname}${window.location.search}`);
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((to: string, options?: { replace?: boolean }) => {
    if (options?.replace === true) window.history.replaceState(null, '', to);
    else window.history.pushState(null, '', to);
    setHref(to);
    if (options?.replace !== true) window.scrollTo(0, 0);
  }, []);
  const value = useMemo(() => ({ location: parseHref(href), navigate }), [href, navigate]);
  return <RouterContext.Provider value={value}>{children}</RouterContext.Provider>;
}

export function useRouter(): RouterValue {
  const value = useContext(RouterContext);
  if (value === null) throw new Error('useRouter outside RouterProvider');
  return value;
}

/**
 * The page's query parameters and a setter that changes several at once (one history entry,
 * replaced; null or '' removes one): two useQueryParam setters in a row would each start from the
 * same old address.
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

/** Sets one query parameter (or removes it with null) without adding a history entry. */
export function useQueryParam(name: string): [string | null, (value: string | null) => void] {
  const [params, setParams] = useSearchParams();
  const set = useCallback((next: string | null) => setParams({ [name]: next }), [name, setParams]);
  return [params.get(name), set];
}

type LinkProps = {
  href: string;
  children: ReactNode;
  className?: string;
  style?: React.CSSProperties;
  'aria-current'?: 'page' | undefined;
  'data-testid'?: string;
};

/** An <a> that navigates in place; a modified click (new tab, download) is left to the browser. */
export function Link({ href, children, ...rest }: LinkProps) {
  const { navigate } = useRouter();
  const onClick = (e: MouseEvent<HTMLAnchorElement>): void => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}

/**
 * Matches `pattern` (segments; `:name` captures one, a trailing `*` the rest) against a path.
 * Returns the captures, or null.
 */
export function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  const want = pattern.split('/').filter((s) => s !== '');
  const have = pathname.split('/').filter((s) => s !== '');
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] ?? '';
    if (w === '*') {
      params['*'] = have.slice(i).map(decodeURIComponent).join('/');
      return params;
    }
    const h = have[i];
    if (h === undefined) return w.endsWith('?') ? params : null;
    if (w.startsWith(':')) params[w.slice(1).replace(/\?$/, '')] = decodeURIComponent(h);
    else if (w !== h) return null;
  }
  return have.length <= want.length ? params : null;
}

/** Sets the document title for the open page. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Niro`;
  }, [title]);
}
