import { gzipSync } from 'node:zlib';
import type { Heartbeat, HeartbeatReply } from '@niro/protocol';
import type { TestApp } from './app.js';

export const HEARTBEAT_PATH = '/api/agent/v1/heartbeat';

type InjectResponse = Awaited<ReturnType<TestApp['app']['inject']>>;

export type PostHeartbeatOptions = {
  /** Sends the body gzipped with `Content-Encoding: gzip` (a `raw` body is sent as given). */
  gzip?: boolean;
  /** Sends these bytes instead of the JSON of the body, for malformed input. */
  raw?: string | Buffer;
};

/** Posts a heartbeat body as an agent would, with `null` for no Authorization header; any answer. */
export function postHeartbeat(
  t: TestApp,
  agentKey: string | null,
  body: unknown,
  options: PostHeartbeatOptions = {},
): Promise<InjectResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (agentKey !== null) headers.authorization = `Bearer ${agentKey}`;
  let payload: string | Buffer = options.raw ?? JSON.stringify(body);
  if (options.gzip === true) {
    headers['content-encoding'] = 'gzip';
    if (options.raw === undefined) payload = gzipSync(payload);
  }
  return t.app.inject({ method: 'POST', url: HEARTBEAT_PATH, headers, payload });
}

/** Sends a heartbeat and returns the server's reply; fails unless it is accepted (200). */
export async function sendHeartbeat(
  t: TestApp,
  agentKey: string,
  heartbeat: Heartbeat,
  options: { gzip?: boolean } = {},
): Promise<HeartbeatReply> {
  const res = await postHeartbeat(t, agentKey, heartbeat, options);
  if (res.statusCode !== 200) throw new Error(`heartbeat refused: ${res.statusCode} ${res.body}`);
  return res.json<HeartbeatReply>();
}
