import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import {
  EnrollResponse,
  HeartbeatReply,
  type EnrollRequest,
  type Heartbeat,
  type EnrollResponse as EnrollResponseT,
  type HeartbeatReply as HeartbeatReplyT,
} from '@niro/protocol';
import { Value } from 'typebox/value';

const gzipAsync = promisify(gzip);

/** Why a call to Niro did not succeed; `kind` drives the agent's reaction and its log line. */
export class NiroCallError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'http' | 'bad_reply',
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'NiroCallError';
  }

  /** A short, stable description of the failure, to log once per change of state. */
  get state(): string {
    if (this.kind === 'http') return `http ${this.status ?? 0}${this.code === undefined ? '' : ` ${this.code}`}`;
    return this.kind;
  }
}

export type NiroClientOptions = {
  url: string;
  userAgent: string;
  timeoutMs?: number;
};

export type SentHeartbeat = { reply: HeartbeatReplyT; bytes: number; rawBytes: number };

/** The agent's side of protocol v1 over HTTP (DESIGN 3.1 and 3.2). */
export class NiroClient {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: NiroClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 20_000;
  }

  async enroll(request: EnrollRequest): Promise<EnrollResponseT> {
    const body = Buffer.from(JSON.stringify(request));
    const reply = await this.post('/api/agent/v1/enroll', body, {});
    if (!Value.Check(EnrollResponse, reply))
      throw new NiroCallError('bad_reply', 'enrollment reply is not a valid answer');
    return reply;
  }

  async heartbeat(agentKey: string, hb: Heartbeat): Promise<SentHeartbeat> {
    const raw = Buffer.from(JSON.stringify(hb));
    const body = await gzipAsync(raw);
    const reply = await this.post('/api/agent/v1/heartbeat', body, {
      authorization: `Bearer ${agentKey}`,
      'content-encoding': 'gzip',
    });
    if (!Value.Check(HeartbeatReply, reply))
      throw new NiroCallError('bad_reply', 'heartbeat reply is not a valid answer');
    return { reply, bytes: body.length, rawBytes: raw.length };
  }

  private async post(path: string, body: Buffer, headers: Record<string, string>): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': this.options.userAgent, ...headers },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new NiroCallError('unreachable', describeNetworkError(err));
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new NiroCallError('unreachable', `reading the reply failed: ${describeNetworkError(err)}`);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
      if (res.ok) throw new NiroCallError('bad_reply', `reply is not JSON (HTTP ${res.status})`);
    }
    if (!res.ok) {
      const code = errorField(parsed, 'code');
      const message = errorField(parsed, 'message') ?? (res.statusText || 'no error message');
      throw new NiroCallError('http', `HTTP ${res.status}: ${message}`, res.status, code);
    }
    return parsed;
  }
}

function errorField(body: unknown, key: 'code' | 'message'): string | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const error = body.error;
  if (typeof error !== 'object' || error === null || !(key in error)) return undefined;
  const v: unknown = (error as Record<string, unknown>)[key];
  return typeof v === 'string' ? v.slice(0, 300) : undefined;
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'timed out';
    const cause: unknown = err.cause;
    if (cause instanceof Error) {
      const code = 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
      return code ?? cause.message;
    }
    return err.message;
  }
  return String(err);
}
