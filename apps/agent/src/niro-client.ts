import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type {
  CommandMessage,
  CommandResultBody,
  EnrollRequest,
  EnrollResponse,
  Heartbeat,
  HeartbeatReply,
  LogAckMessage,
  LogEndMessage,
  LogMessage,
} from '@niro/protocol';
import { COMMAND_KINDS, LOG_LIMITS } from '@niro/protocol/commands';
import { parseLogAck } from './logs/log-stream.js';

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

export type SentHeartbeat = { reply: HeartbeatReply; bytes: number; rawBytes: number };

// Replies are checked by hand: the schema library (TypeBox) would add ~25 MB to the agent's RSS.
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

export function parseEnrollResponse(body: unknown): EnrollResponse | null {
  if (!isObject(body)) return null;
  const { clusterId, agentKey, heartbeatIntervalSeconds } = body;
  if (typeof clusterId !== 'string' || typeof agentKey !== 'string' || !isInt(heartbeatIntervalSeconds)) return null;
  return { clusterId, agentKey, heartbeatIntervalSeconds };
}

export function parseHeartbeatReply(body: unknown): HeartbeatReply | null {
  if (!isObject(body)) return null;
  const { ack, resendFull, heartbeatIntervalSeconds, desiredAgentVersion } = body;
  if (!isInt(ack) || !isInt(heartbeatIntervalSeconds)) return null;
  if (resendFull !== undefined && resendFull !== true) return null;
  if (desiredAgentVersion !== undefined && typeof desiredAgentVersion !== 'string') return null;
  const reply: HeartbeatReply = { ack, heartbeatIntervalSeconds };
  if (resendFull === true) reply.resendFull = true;
  if (desiredAgentVersion !== undefined) reply.desiredAgentVersion = desiredAgentVersion;
  return reply;
}

const KINDS: ReadonlySet<string> = new Set(COMMAND_KINDS);

export function parseCommandMessage(x: unknown): CommandMessage | null {
  if (!isObject(x)) return null;
  const { type, id, kind, payload, issuedAt, expiresAt } = x;
  if (type !== 'command' || typeof id !== 'string' || typeof kind !== 'string' || !KINDS.has(kind)) return null;
  if (!isObject(payload) || Array.isArray(payload)) return null;
  if (typeof issuedAt !== 'string' || typeof expiresAt !== 'string') return null;
  const known = COMMAND_KINDS.find((k) => k === kind);
  if (known === undefined) return null;
  return { type: 'command', id, kind: known, payload, issuedAt, expiresAt };
}

/** The agent's side of protocol v1 over HTTP (DESIGN 3.1 and 3.2). */
export class NiroClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly httpAgent = new http.Agent({ keepAlive: true, timeout: 60_000 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, timeout: 60_000 });

  constructor(private readonly options: NiroClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 20_000;
  }

  async enroll(request: EnrollRequest): Promise<EnrollResponse> {
    const body = Buffer.from(JSON.stringify(request));
    const reply = parseEnrollResponse(await this.post('/api/agent/v1/enroll', body, {}));
    if (reply === null) throw new NiroCallError('bad_reply', 'enrollment reply is not a valid answer');
    return reply;
  }

  async heartbeat(agentKey: string, hb: Heartbeat): Promise<SentHeartbeat> {
    const raw = Buffer.from(JSON.stringify(hb));
    const body = await gzipAsync(raw);
    const reply = parseHeartbeatReply(
      await this.post('/api/agent/v1/heartbeat', body, {
        authorization: `Bearer ${agentKey}`,
        'content-encoding': 'gzip',
      }),
    );
    if (reply === null) throw new NiroCallError('bad_reply', 'heartbeat reply is not a valid answer');
    return { reply, bytes: body.length, rawBytes: raw.length };
  }

  /**
   * Long-poll for commands (DESIGN 3.3): resolves with what the server hands out, or none after
   * `waitSeconds`. Malformed commands are dropped (the server redelivers nothing it did not send).
   */
  async pollCommands(agentKey: string, waitSeconds: number): Promise<CommandMessage[]> {
    const reply = await this.post(
      `/api/agent/v1/commands?waitSeconds=${waitSeconds}`,
      undefined,
      { authorization: `Bearer ${agentKey}` },
      (waitSeconds + 15) * 1000,
    );
    if (!isObject(reply) || !Array.isArray(reply.commands)) {
      throw new NiroCallError('bad_reply', 'command poll reply is not a valid answer');
    }
    return reply.commands.map(parseCommandMessage).filter((c): c is CommandMessage => c !== null);
  }

  async ackCommand(agentKey: string, id: string): Promise<void> {
    await this.post(`/api/agent/v1/commands/${encodeURIComponent(id)}/ack`, Buffer.from('{}'), {
      authorization: `Bearer ${agentKey}`,
    });
  }

  async sendResult(agentKey: string, id: string, result: CommandResultBody): Promise<void> {
    await this.post(`/api/agent/v1/commands/${encodeURIComponent(id)}/result`, Buffer.from(JSON.stringify(result)), {
      authorization: `Bearer ${agentKey}`,
    });
  }

  /**
   * One message of a log stream over long-poll (`POST /api/agent/v1/logs/{streamId}`). Niro
   * answers a `log` once its reader has taken the lines, with the acknowledgement; a `log-end`
   * with no body (null).
   */
  async sendLog(agentKey: string, message: LogMessage | LogEndMessage): Promise<LogAckMessage | null> {
    const reply = await this.post(
      `/api/agent/v1/logs/${encodeURIComponent(message.streamId)}`,
      Buffer.from(JSON.stringify(message)),
      { authorization: `Bearer ${agentKey}` },
      (LOG_LIMITS.ackTimeoutSeconds + 15) * 1000,
    );
    if (message.type === 'log-end' || reply === undefined) return null;
    const ack = parseLogAck(reply);
    if (ack === null) throw new NiroCallError('bad_reply', 'log reply is not a valid acknowledgement');
    return ack;
  }

  private async post(
    path: string,
    body: Buffer | undefined,
    headers: Record<string, string>,
    timeoutMs = this.timeoutMs,
  ): Promise<unknown> {
    const reply = await this.send(body === undefined ? 'GET' : 'POST', path, body, headers, timeoutMs);
    const ok = reply.status >= 200 && reply.status < 300;
    let parsed: unknown;
    try {
      parsed = reply.text === '' ? undefined : JSON.parse(reply.text);
    } catch {
      parsed = undefined;
      if (ok) throw new NiroCallError('bad_reply', `reply is not JSON (HTTP ${reply.status})`);
    }
    if (!ok) {
      const code = errorField(parsed, 'code');
      const message = errorField(parsed, 'message') ?? (reply.statusText || 'no error message');
      throw new NiroCallError('http', `HTTP ${reply.status}: ${message}`, reply.status, code);
    }
    return parsed;
  }

  /**
   * One POST over node:http(s) with keep-alive. Not `fetch`: its HTTP stack costs ~10 MB of RSS
   * the agent does not have. Replies are small; a larger one is garbage and is cut off.
   */
  private send(
    method: 'GET' | 'POST',
    path: string,
    body: Buffer | undefined,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number; statusText: string; text: string }> {
    const url = new URL(`${this.base}${path}`);
    const request = url.protocol === 'https:' ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
          headers: {
            ...(body === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': String(body.length) }),
            'user-agent': this.options.userAgent,
            ...headers,
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_REPLY_BYTES) {
              req.destroy(new NiroCallError('bad_reply', `reply is larger than ${MAX_REPLY_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.once('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              statusText: res.statusMessage ?? '',
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.once('error', (err) => reject(toCallError(err)));
        },
      );
      req.once('timeout', () => req.destroy(new NiroCallError('unreachable', 'timed out')));
      req.once('error', (err) => reject(toCallError(err)));
      req.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

const MAX_REPLY_BYTES = 1024 * 1024;

function toCallError(err: unknown): NiroCallError {
  if (err instanceof NiroCallError) return err;
  if (err instanceof Error) {
    const code = 'code' in err && typeof err.code === 'string' ? err.code : undefined;
    return new NiroCallError('unreachable', code ?? err.message);
  }
  return new NiroCallError('unreachable', String(err));
}

function errorField(body: unknown, key: 'code' | 'message'): string | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const error = body.error;
  if (typeof error !== 'object' || error === null || !(key in error)) return undefined;
  const v: unknown = (error as Record<string, unknown>)[key];
  return typeof v === 'string' ? v.slice(0, 300) : undefined;
}
