import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { CommandMessage, CommandResultBody } from '@niro/protocol';
import { fullJitterDelay, sleep, StateLog } from '../backoff.js';
import type { Logger } from '../logger.js';
import { LogSendError } from '../logs/log-stream.js';
import type { LogStreams } from '../logs/log-streams.js';
import { parseCommandMessage } from '../niro-client.js';
import type { ExecuteCommand } from './long-poll-channel.js';

export const CONNECT_PATH = '/api/agent/v1/connect';

export type WebSocketChannelOptions = {
  url: string;
  agentKey: string;
  userAgent: string;
  version: string;
  execute: ExecuteCommand;
  logger: Logger;
  random?: () => number;
  /** Failed connections in a row, before any succeeded, after which the caller falls back to long-poll. */
  maxFailuresBeforeFallback?: number;
  /** With no frame (the server pings every 15 s) for this long, the connection is half-open. */
  silenceMs?: number;
  /** Log streams: their messages go out as frames, `log-ack` frames come back to them. */
  logStreams?: LogStreams;
};

/** How `run` ended: stopped, or the WebSocket is not usable here and long-poll should take over. */
export type WebSocketOutcome = 'stopped' | 'fallback';

const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 60_000;
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The largest command payload is 2 MiB of JSON; room for its envelope. */
const MAX_MESSAGE_BYTES = 3 * 1024 * 1024;

/**
 * The WebSocket transport of the command channel (DESIGN 3.3), the same job as LongPollChannel:
 * hello, receive commands, acknowledge, execute in order, report. A result stays queued until the
 * server confirms it (`result-ack`, or an error frame naming it) and goes out again after a
 * reconnect. The client is a small RFC 6455 implementation over node:http, because the `ws`
 * package costs ~10 MB of RSS (docs/adr/0006).
 */
export class WebSocketChannel {
  private readonly pending = new Map<string, CommandResultBody>();
  private readonly state: StateLog;
  private readonly random: () => number;
  private queue: Promise<void> = Promise.resolve();
  private connection: WsConnection | null = null;

  constructor(private readonly options: WebSocketChannelOptions) {
    this.state = new StateLog(options.logger, 'command channel (WebSocket)');
    this.random = options.random ?? Math.random;
  }

  /** Results executed but not yet confirmed by the server. */
  get undelivered(): number {
    return this.pending.size;
  }

  async run(signal: AbortSignal, onConnected: () => void = () => undefined): Promise<WebSocketOutcome> {
    const maxFailures = this.options.maxFailuresBeforeFallback ?? 3;
    let everConnected = false;
    for (let attempt = 0; !signal.aborted;) {
      let connection: WsConnection;
      try {
        connection = await connectWebSocket(this.options, signal);
      } catch (err) {
        const failure = err instanceof UpgradeError ? err : new UpgradeError('unreachable', String(err));
        if (signal.aborted) break;
        if (!everConnected && (failure.refused || attempt + 1 >= maxFailures)) {
          this.options.logger.info({ reason: failure.state }, 'the WebSocket channel is not usable; falling back');
          return 'fallback';
        }
        this.state.failed(failure.state, `connecting fails (${failure.message}); retrying with backoff`);
        await sleep(this.backoff(attempt), signal);
        attempt += 1;
        continue;
      }
      if (!everConnected) onConnected();
      everConnected = true;
      attempt = 0;
      this.state.ok('connected again');
      const reason = await this.serve(connection, signal);
      if (signal.aborted) break;
      this.state.failed('disconnected', `the connection closed (${reason}); reconnecting with backoff`);
      await sleep(this.backoff(attempt), signal);
      attempt += 1;
    }
    await this.queue;
    return 'stopped';
  }

  private backoff(attempt: number): number {
    return Math.max(RETRY_BASE_MS, fullJitterDelay(attempt, RETRY_BASE_MS * 2, RETRY_CAP_MS, this.random));
  }

  /** One connection's life: resolves with why it ended. */
  private serve(connection: WsConnection, signal: AbortSignal): Promise<string> {
    const { logger } = this.options;
    this.connection = connection;
    const onAbort = (): void => connection.close(1001);
    signal.addEventListener('abort', onAbort, { once: true });
    connection.sendJson({ type: 'hello', version: this.options.version, protocol: 1 });
    for (const [id, result] of this.pending) connection.sendJson({ type: 'result', id, ...result });
    const { logStreams } = this.options;
    logStreams?.attach({
      send: async (message) => {
        if (!connection.isOpen) throw new LogSendError(true, 'the connection is closed');
        connection.sendJson(message);
        return null;
      },
    });
    connection.onMessage = (text) => {
      let frame: unknown;
      try {
        frame = JSON.parse(text);
      } catch {
        logger.warn('the server sent a frame that is not JSON');
        return;
      }
      if (typeof frame !== 'object' || frame === null) return;
      const type = 'type' in frame ? frame.type : undefined;
      const id = 'id' in frame && typeof frame.id === 'string' ? frame.id : undefined;
      if (type === 'command') {
        const command = parseCommandMessage(frame);
        if (command === null) {
          logger.warn({ id }, 'the server sent a command this agent cannot read');
          return;
        }
        connection.sendJson({ type: 'ack', id: command.id });
        this.enqueue(command);
      } else if (type === 'log-ack') {
        logStreams?.ack(frame);
      } else if (type === 'result-ack' && id !== undefined) {
        this.pending.delete(id);
      } else if (type === 'error') {
        const code = 'code' in frame && typeof frame.code === 'string' ? frame.code : 'unknown';
        const message = 'message' in frame && typeof frame.message === 'string' ? frame.message : '';
        // An error naming a command is final (unknown, cancelled, expired): that result is dropped.
        if (id !== undefined) this.pending.delete(id);
        logger.warn({ id, code, message: message.slice(0, 300) }, 'the server refused a message');
      }
    };
    return new Promise((resolve) => {
      connection.onClose = (reason) => {
        signal.removeEventListener('abort', onAbort);
        if (this.connection === connection) this.connection = null;
        // Its streams end; their log-end goes out over the next connection.
        logStreams?.detach();
        resolve(reason);
      };
    });
  }

  /** Commands run one at a time in arrival order, across reconnects (they are acknowledged already). */
  private enqueue(command: CommandMessage): void {
    this.queue = this.queue.then(async () => {
      const started = Date.now();
      let result: CommandResultBody;
      try {
        result = await this.options.execute(command);
      } catch (err) {
        result = { status: 'failed', error: { code: 'agent_error', message: String(err).slice(0, 1000) } };
      }
      this.options.logger.info(
        { id: command.id, kind: command.kind, status: result.status, ms: Date.now() - started },
        'command done',
      );
      this.pending.set(command.id, result);
      this.connection?.sendJson({ type: 'result', id: command.id, ...result });
    });
  }
}

class UpgradeError extends Error {
  constructor(
    readonly state: string,
    message: string,
    /** The server answered the upgrade with a refusal: a proxy or server without WebSocket support. */
    readonly refused = false,
  ) {
    super(message);
  }
}

function connectWebSocket(options: WebSocketChannelOptions, signal: AbortSignal): Promise<WsConnection> {
  const url = new URL(`${options.url.replace(/\/+$/, '')}${CONNECT_PATH}`);
  const key = randomBytes(16).toString('base64');
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': key,
        'sec-websocket-version': '13',
        authorization: `Bearer ${options.agentKey}`,
        'user-agent': options.userAgent,
      },
      timeout: 20_000,
      signal,
    });
    req.once('upgrade', (res, socket: Socket, head: Buffer) => {
      const expected = createHash('sha1')
        .update(key + WS_GUID)
        .digest('base64');
      if (res.headers['sec-websocket-accept'] !== expected) {
        socket.destroy();
        reject(new UpgradeError('bad_handshake', 'the upgrade answer does not match the request', true));
        return;
      }
      resolve(new WsConnection(socket, head, options.silenceMs ?? 45_000));
    });
    req.once('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      // 401/403 would refuse long-poll too, and 5xx may pass: only "no WebSocket here" falls back.
      const refused = status !== 401 && status !== 403 && status < 500;
      reject(new UpgradeError(`http ${status}`, `the server answered the upgrade with HTTP ${status}`, refused));
    });
    req.once('timeout', () => req.destroy(new UpgradeError('unreachable', 'timed out')));
    req.once('error', (err) => {
      if (err instanceof UpgradeError) reject(err);
      else
        reject(new UpgradeError('unreachable', 'code' in err && typeof err.code === 'string' ? err.code : err.message));
    });
    req.end();
  });
}

/** Client side of RFC 6455: masked text frames out; text, ping and close in. */
class WsConnection {
  onMessage: (text: string) => void = () => undefined;
  onClose: (reason: string) => void = () => undefined;
  private buffer: Buffer;
  private fragments: Buffer[] = [];
  private fragmentBytes = 0;
  private closed = false;
  private silence: NodeJS.Timeout;

  constructor(
    private readonly socket: Socket,
    head: Buffer,
    private readonly silenceMs: number,
  ) {
    this.buffer = head;
    socket.setNoDelay(true);
    this.silence = setTimeout(() => this.destroy('no frame from the server in time'), silenceMs);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.silence.refresh();
      this.parse();
    });
    socket.on('error', (err) => this.destroy(err.message));
    socket.on('close', () => this.destroy('closed'));
    if (head.length > 0) queueMicrotask(() => this.parse());
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  sendJson(message: object): void {
    this.sendFrame(0x1, Buffer.from(JSON.stringify(message)));
  }

  close(code: number): void {
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.sendFrame(0x8, payload);
    setTimeout(() => this.destroy('closed by the agent'), 1_000).unref();
  }

  private sendFrame(opcode: number, payload: Buffer): void {
    if (this.closed) return;
    const length = payload.length;
    const header = Buffer.alloc(length < 126 ? 2 : length < 65536 ? 4 : 10);
    header[0] = 0x80 | opcode;
    if (length < 126) header[1] = 0x80 | length;
    else if (length < 65536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(length, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(length), 2);
    }
    const mask = randomBytes(4);
    const masked = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) masked[i] = (payload[i] ?? 0) ^ (mask[i & 3] ?? 0);
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  private parse(): void {
    while (!this.closed && this.buffer.length >= 2) {
      const b0 = this.buffer[0] ?? 0;
      const b1 = this.buffer[1] ?? 0;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      if ((b1 & 0x80) !== 0) return this.fail(1002, 'the server masked a frame');
      let length = b1 & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        const big = this.buffer.readBigUInt64BE(2);
        if (big > BigInt(MAX_MESSAGE_BYTES)) return this.fail(1009, 'a frame is too large');
        length = Number(big);
        offset = 10;
      }
      if (length > MAX_MESSAGE_BYTES) return this.fail(1009, 'a frame is too large');
      if (this.buffer.length < offset + length) return;
      const payload = this.buffer.subarray(offset, offset + length);
      this.buffer = this.buffer.subarray(offset + length);
      this.frame(fin, opcode, payload);
    }
  }

  private frame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode === 0x9) return this.sendFrame(0xa, Buffer.from(payload));
    if (opcode === 0xa) return;
    if (opcode === 0x8) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.sendFrame(0x8, Buffer.from(payload.subarray(0, 2)));
      return this.destroy(`server closed with ${code}`);
    }
    if (opcode === 0x1 || opcode === 0x2 || opcode === 0x0) {
      if (opcode !== 0x0) this.fragments = [];
      this.fragments.push(Buffer.from(payload));
      this.fragmentBytes = opcode === 0x0 ? this.fragmentBytes + payload.length : payload.length;
      if (this.fragmentBytes > MAX_MESSAGE_BYTES) return this.fail(1009, 'a message is too large');
      if (!fin) return;
      const message = Buffer.concat(this.fragments).toString('utf8');
      this.fragments = [];
      this.fragmentBytes = 0;
      this.onMessage(message);
      return;
    }
    this.fail(1002, `unknown opcode ${opcode}`);
  }

  private fail(code: number, reason: string): void {
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.sendFrame(0x8, payload);
    this.destroy(reason);
  }

  private destroy(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.silence);
    this.socket.destroy();
    this.onClose(reason);
  }
}
