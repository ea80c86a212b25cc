import type { App } from '../../../lib/http.js';

/** What a browser on the dashboard's own origin sends with a fetch(). */
export const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' } as const;

type InjectResponse = Awaited<ReturnType<App['inject']>>;

/** The value of a Set-Cookie of the reply, by name. */
export function responseCookie(res: InjectResponse, name = 'niro_session'): string | undefined {
  return res.cookies.find((c) => c.name === name)?.value;
}

/** Signs in through the API and returns the session cookie as a request header. */
export async function signIn(
  app: App,
  email: string,
  password: string,
): Promise<{ cookie: Record<string, string>; value: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
  const value = responseCookie(res);
  if (res.statusCode !== 200 || value === undefined) {
    throw new Error(`sign-in failed: ${res.statusCode} ${res.body}`);
  }
  return { cookie: { cookie: `niro_session=${value}` }, value };
}
