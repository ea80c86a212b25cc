import { ApiClient, type FetchLike } from '@niro/protocol';
import { readLogin } from './config-file.js';
import type { CliContext } from './context.js';
import { UnreachableError, UsageError, isConnectionError } from './errors.js';
import type { OutputFormat } from './output.js';

/** The options every command understands (set on the root program). */
export type GlobalOptions = { url?: string; token?: string; output?: OutputFormat };

export const CLI_USER_AGENT = 'niro-cli/0.1.0';

/** Checks and normalises a server URL given by the user. */
export function normaliseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new UsageError(`"${raw}" is not a URL (use e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`"${raw}" is not an http(s) URL`);
  }
  return url.toString().replace(/\/+$/, '');
}

/** A client whose connection failures read "cannot reach Niro at <url>". */
export function apiClient(url: string, token?: string): ApiClient {
  const reporting: FetchLike = async (input, init) => {
    try {
      return await fetch(input, init);
    } catch (err) {
      if (isConnectionError(err)) throw new UnreachableError(url, err);
      throw err;
    }
  };
  return new ApiClient({ baseUrl: url, token, fetch: reporting, userAgent: CLI_USER_AGENT });
}

export type Target = { url: string; token: string | undefined };

/** Server and token: flags first, then NIRO_URL/NIRO_TOKEN, then what `niro login` stored. */
export async function resolveTarget(ctx: CliContext, globals: GlobalOptions): Promise<Target> {
  const stored = await readLogin(ctx.configDir);
  const rawUrl = globals.url ?? ctx.env.NIRO_URL ?? stored?.url;
  if (rawUrl === undefined || rawUrl === '') {
    throw new UsageError('no Niro server given: run `niro login --url <url>` or pass --url (or set NIRO_URL)');
  }
  const url = normaliseUrl(rawUrl);
  const envToken = ctx.env.NIRO_TOKEN !== '' ? ctx.env.NIRO_TOKEN : undefined;
  const token =
    globals.token ?? envToken ?? (stored !== null && normaliseUrl(stored.url) === url ? stored.token : undefined);
  return { url, token };
}

/** An authenticated client, or a usage error telling how to log in. */
export async function authenticatedClient(ctx: CliContext, globals: GlobalOptions): Promise<ApiClient> {
  const { url, token } = await resolveTarget(ctx, globals);
  if (token === undefined) {
    throw new UsageError(
      `not logged in to ${url}: run \`niro login --url ${url}\` or pass --token (or set NIRO_TOKEN)`,
    );
  }
  return apiClient(url, token);
}
