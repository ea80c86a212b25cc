import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { NiroApiError, readErrorBody } from '@niro/protocol';
import { Agent, request, type Dispatcher } from 'undici';

const gzip = promisify(gzipCallback);

/** One keep-alive connection pool shared by many simulated agents talking to the same server. */
export function createAgentDispatcher(options: { connections?: number } = {}): Dispatcher {
  return new Agent({
    connections: options.connections ?? 128,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
}

export type PostResult = { body: unknown; status: number; latencyMs: number; bytesSent: number };

/**
 * POSTs JSON (gzipped when asked) and parses the JSON reply; an error reply becomes a
 * NiroApiError with the server's code, like the API client does.
 */
export async function postJson(
  dispatcher: Dispatcher,
  url: string,
  payload: unknown,
  options: { token?: string; gzip?: boolean; userAgent?: string; signal?: AbortSignal } = {},
): Promise<PostResult> {
  const json = Buffer.from(JSON.stringify(payload));
  const body = options.gzip ? await gzip(json) : json;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'user-agent': options.userAgent ?? 'niro-agent-simulator',
  };
  if (options.gzip) headers['content-encoding'] = 'gzip';
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const started = performance.now();
  const res = await request(url, { method: 'POST', headers, body, dispatcher, signal: options.signal });
  const text = await res.body.text();
  const latencyMs = performance.now() - started;
  let parsed: unknown = undefined;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (res.statusCode >= 400) {
    const err = readErrorBody(parsed);
    throw new NiroApiError(
      res.statusCode,
      err?.code ?? 'http_error',
      err?.message ?? `POST ${new URL(url).pathname} failed with HTTP ${res.statusCode}`,
    );
  }
  return { body: parsed, status: res.statusCode, latencyMs, bytesSent: body.length };
}
