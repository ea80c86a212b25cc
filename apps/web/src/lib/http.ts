// No schema library here: this module is part of the first page's JavaScript.
/** An API error as the server describes it (`{error: {code, message}}`), or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Where the browser goes when the session has expired: sign in, then back to this page. */
export function loginHref(): string {
  const here = `${window.location.pathname}${window.location.search}`;
  return `/login?next=${encodeURIComponent(here)}&expired=1`;
}

let redirecting = false;

/**
 * Signs out: the server ends the session, then the browser goes to the sign-in form. A poll that
 * meets the ended session meanwhile does not send the page to "your session has ended" instead.
 */
export async function signOut(): Promise<void> {
  redirecting = true;
  await fetch('/api/v1/auth/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => undefined);
  window.location.assign('/login');
}

/**
 * fetch() for /api/v1 with the session cookie. A 401 means the session expired or was revoked:
 * the page goes to the sign-in form, which comes back here afterwards. Other errors throw an
 * ApiError carrying the server's message.
 */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('accept')) headers.set('accept', 'application/json');
  if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { ...init, headers, cache: 'no-store', credentials: 'same-origin' });
  } catch (err) {
    throw new ApiError(
      0,
      'network',
      `The server could not be reached (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  if (res.status === 401) {
    if (!redirecting) {
      redirecting = true;
      window.location.assign(loginHref());
    }
    throw new ApiError(401, 'unauthorized', 'Your session has ended; signing in again…');
  }
  if (!res.ok && res.status !== 304) throw await errorFrom(res);
  return res;
}

async function errorFrom(res: Response): Promise<ApiError> {
  try {
    const json: unknown = await res.json();
    if (typeof json === 'object' && json !== null && 'error' in json) {
      const e = json.error;
      if (typeof e === 'object' && e !== null && 'message' in e && typeof e.message === 'string') {
        const code = 'code' in e && typeof e.code === 'string' ? e.code : 'error';
        return new ApiError(res.status, code, e.message);
      }
    }
  } catch {
    // Not JSON: described by the status below.
  }
  return new ApiError(res.status, 'error', `The server answered HTTP ${res.status}`);
}

/** A message for an error caught in a page: the server's words where there are some. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
