import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { COMMAND_LIMITS, type CommandMessage } from '@niro/protocol';
import { Gauge, type Registry } from 'prom-client';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { NiroError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { CommandsService } from '../commands/commands.service.js';
import type { AgentIdentity } from '../heartbeat/heartbeat.service.js';
import type { LogsService } from '../logs/logs.service.js';
import type { KeyRevocations } from './key-revocations.js';
import {
  CLOSE,
  PROTOCOL_VERSION,
  parseAgentFrame,
  type AgentFrame,
  type ErrorFrame,
  type ResultAckFrame,
} from './gateway-frames.js';

export const AGENT_CONNECT_PATH = '/api/agent/v1/connect';

export type AgentGatewayOptions = {
  /** The agent must say hello within this long after the upgrade. */
  helloTimeoutMs: number;
  pingIntervalMs: number;
  /** A connection that answered no ping for this long is half-open and gets dropped. */
  deadAfterMs: number;
  /** Claims again this often, for redeliveries (which no wake-up announces). */
  claimIntervalMs: number;
  /** Largest frame accepted; a larger one closes the connection with 1009. */
  maxFrameBytes: number;
};

export const DEFAULT_GATEWAY_OPTIONS: AgentGatewayOptions = {
  helloTimeoutMs: 10_000,
  pingIntervalMs: 15_000,
  deadAfterMs: 45_000,
  claimIntervalMs: 10_000,
  maxFrameBytes: COMMAND_LIMITS.resultBytes + 64 * 1024,
};

export type AgentGatewayDeps = {
  commands: CommandsService;
  keyRevocations: KeyRevocations;
  /** Takes `log` and `log-end` frames; its acknowledgements go back as `log-ack` frames. */
  logs: LogsService;
  logger: Logger;
  registry?: Registry;
};

/**
 * The WebSocket half of the command channel (DESIGN 3.3). The agent key is checked before the
 * upgrade; after a `hello`, the connection gets the cluster's commands as they become
 * deliverable and takes `ack` and `result` frames with the long-poll routes' semantics, and the
 * log stream's `log` and `log-end` frames (answered with `log-ack` once the reader took the lines). When the
 * cluster's key is replaced or the cluster deleted, the connection closes with 4003.
 */
export class AgentGateway {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<AgentConnection>();
  private readonly options: AgentGatewayOptions;

  constructor(
    private readonly deps: AgentGatewayDeps,
    options: Partial<AgentGatewayOptions> = {},
  ) {
    this.options = { ...DEFAULT_GATEWAY_OPTIONS, ...options };
    // No compression: it costs memory per connection and frames are mostly small JSON.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.options.maxFrameBytes,
      perMessageDeflate: false,
    });
    if (deps.registry !== undefined) {
      const connections = this.connections;
      new Gauge({
        name: 'niro_agent_websocket_connections',
        help: 'Agents connected over the WebSocket command channel',
        registers: [deps.registry],
        collect() {
          this.set(connections.size);
        },
      });
    }
  }

  get connected(): number {
    return this.connections.size;
  }

  /** For the HTTP server's `upgrade` event. Answers other paths with 404 and a bad key with 401. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // A peer that resets during authentication must not crash the process.
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_CONNECT_PATH) {
      refuse(socket, 404, 'not_found', `Route GET ${path ?? ''} does not accept a WebSocket upgrade`);
      return;
    }
    let agent: AgentIdentity;
    // The bearer key only; cookies play no part in the agent protocol.
    const authorization = req.headers.authorization;
    try {
      agent = await this.deps.commands.authenticateAgent(authorization);
    } catch (err) {
      if (err instanceof NiroError) {
        refuse(socket, err.statusCode, err.code, err.message);
      } else {
        this.deps.logger.error({ err }, 'agent WebSocket authentication failed');
        refuse(socket, 500, 'internal_error', 'Something went wrong on the server; the error was logged');
      }
      return;
    }
    if (socket.destroyed) return;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new AgentConnection(ws, agent, authorization, this.deps, this.options, () =>
        this.connections.delete(connection),
      );
      this.connections.add(connection);
    });
  }

  /** Closes every connection (going away); agents reconnect to another replica or after the restart. */
  close(): void {
    for (const connection of this.connections) connection.close(CLOSE.goingAway, 'server shutting down');
  }
}

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Refused'}\r\n` +
      'connection: close\r\ncontent-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** One agent's connection: hello, then commands out and acks/results in, one frame at a time. */
class AgentConnection {
  private ready = false;
  private closed = false;
  private lastPong = performance.now();
  private unsubscribe: (() => void) | null = null;
  private readonly unsubscribeRevocations: () => void;
  private checkingKey = false;
  private checkKeyAgain = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private inbox: Promise<void> = Promise.resolve();
  private claiming = false;
  private claimAgain = false;
  /** Aborts the waits for log acknowledgements when the connection closes. */
  private readonly gone = new AbortController();
  private readonly log: Logger;

  constructor(
    private readonly ws: WebSocket,
    private readonly agent: AgentIdentity,
    /** Kept to check the key again; never logged. */
    private readonly authorization: string | undefined,
    private readonly deps: AgentGatewayDeps,
    private readonly options: AgentGatewayOptions,
    private readonly onClosed: () => void,
  ) {
    this.log = deps.logger.child({ clusterId: agent.clusterId });
    ws.on('message', (data, isBinary) => {
      this.inbox = this.inbox.then(() => this.receive(data, isBinary));
    });
    ws.on('pong', () => {
      this.lastPong = performance.now();
    });
    ws.on('error', (err) => this.log.debug({ err: err.message }, 'agent WebSocket error'));
    ws.on('close', (code) => this.closedBy(code));
    // From the upgrade on, not from the hello: a connection that has not said hello yet holds the key too.
    this.unsubscribeRevocations = deps.keyRevocations.subscribe(agent.clusterId, () => this.checkKey());
    this.timers.push(
      setTimeout(() => {
        if (!this.ready) this.fail(CLOSE.helloRequired, 'hello_timeout', 'No hello arrived in time');
      }, options.helloTimeoutMs),
      setInterval(() => this.keepAlive(), options.pingIntervalMs),
    );
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.ws.close(code, reason);
    // A peer that never answers the close frame does not hold the server's shutdown.
    setTimeout(() => this.ws.terminate(), 1_000).unref();
  }

  private keepAlive(): void {
    if (performance.now() - this.lastPong > this.options.deadAfterMs) {
      this.log.info('agent WebSocket answered no ping; dropping the half-open connection');
      this.ws.terminate();
      return;
    }
    this.ws.ping();
    // A safety net for a revocation signal that did not arrive (a replica's LISTEN connection was down).
    this.checkKey();
  }

  /** Closes with 4003 when the key is no longer the cluster's current one. */
  private checkKey(): void {
    if (this.closed) return;
    if (this.checkingKey) {
      // A check that started before the revocation's commit may still have seen the old key.
      this.checkKeyAgain = true;
      return;
    }
    this.checkingKey = true;
    void (async () => {
      try {
        do {
          this.checkKeyAgain = false;
          await this.deps.commands.authenticateAgent(this.authorization);
        } while (this.checkKeyAgain && !this.closed);
      } catch (err) {
        if (err instanceof NiroError && err.statusCode === 401) {
          this.log.info('agent key revoked; closing its WebSocket');
          this.close(CLOSE.keyRevoked, 'agent key revoked');
        } else {
          // The database may be down for a moment; the next check decides.
          this.log.warn({ err }, 'could not check an agent WebSocket key');
        }
      } finally {
        this.checkingKey = false;
      }
    })();
  }

  private async receive(data: RawData, isBinary: boolean): Promise<void> {
    if (this.closed) return;
    const text = isBinary ? null : rawText(data);
    const parsed =
      text === null
        ? { ok: false as const, code: 'invalid_frame', message: 'Send JSON text frames' }
        : parseAgentFrame(text);
    if (!parsed.ok) {
      if (!this.ready)
        return this.fail(CLOSE.helloRequired, 'hello_required', `The first frame must be a hello: ${parsed.message}`);
      return this.send<ErrorFrame>({ type: 'error', code: parsed.code, message: parsed.message });
    }
    const frame = parsed.frame;
    if (!this.ready) return this.hello(frame);
    try {
      await this.handle(frame);
    } catch (err) {
      if (err instanceof NiroError && err.statusCode < 500 && frame.type !== 'hello') {
        // Refused for good (unknown, cancelled, expired, too large): the agent drops it.
        const error: ErrorFrame = { type: 'error', code: err.code, message: err.message };
        if ('id' in frame) error.id = frame.id;
        return this.send(error);
      }
      this.log.error({ err, frame: frame.type }, 'agent WebSocket frame failed');
      // The agent reconnects and sends what it has not seen confirmed again.
      this.close(CLOSE.internalError, 'internal error');
    }
  }

  private hello(frame: AgentFrame): void {
    if (frame.type !== 'hello') {
      return this.fail(CLOSE.helloRequired, 'hello_required', 'The first frame must be a hello');
    }
    if (frame.protocol !== PROTOCOL_VERSION) {
      return this.fail(
        CLOSE.unsupportedProtocol,
        'unsupported_protocol',
        `This server speaks agent protocol ${PROTOCOL_VERSION}, not ${frame.protocol}; update the agent`,
      );
    }
    this.ready = true;
    this.log.info({ agentVersion: frame.version }, 'agent connected over WebSocket');
    this.unsubscribe = this.deps.commands.notifier.subscribe(this.agent.clusterId, () => this.deliver());
    this.timers.push(setInterval(() => this.deliver(), this.options.claimIntervalMs));
    this.deliver();
  }

  private async handle(frame: AgentFrame): Promise<void> {
    switch (frame.type) {
      case 'hello':
        return this.send<ErrorFrame>({
          type: 'error',
          code: 'duplicate_hello',
          message: 'Say hello once per connection',
        });
      case 'ack':
        return this.deps.commands.acknowledge(this.agent, frame.id);
      case 'result': {
        const { id, type: _type, ...body } = frame;
        const reply = await this.deps.commands.recordResult(this.agent, id, body);
        return this.send<ResultAckFrame>({ type: 'result-ack', id, state: reply.state, recorded: reply.recorded });
      }
      case 'log':
        // Not awaited: the acknowledgement waits for the reader, and other frames must not wait with it.
        void this.deps.logs
          .relayLog(this.agent, frame, { maxWaitMs: this.deps.logs.options.socketWaitMs, signal: this.gone.signal })
          .then((ack) => {
            if (ack !== null) this.send(ack);
          });
        return;
      case 'log-end':
        return this.deps.logs.relayEnd(this.agent, frame);
    }
  }

  /** Claims and pushes until nothing is deliverable; wake-ups during a claim trigger one more. */
  private deliver(): void {
    if (this.closed) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = true;
    void (async () => {
      try {
        do {
          this.claimAgain = false;
          let batch: CommandMessage[];
          do {
            batch = await this.deps.commands.claim(this.agent.clusterId);
            for (const command of batch) this.send(command);
          } while (batch.length > 0 && !this.closed);
        } while (this.claimAgain && !this.closed);
      } catch (err) {
        this.log.error({ err }, 'claiming commands for a WebSocket agent failed');
      } finally {
        this.claiming = false;
      }
    })();
  }

  private send<T extends object>(message: T): void {
    if (this.closed) return;
    this.ws.send(JSON.stringify(message));
  }

  private fail(code: number, errorCode: string, message: string): void {
    this.send<ErrorFrame>({ type: 'error', code: errorCode, message });
    this.close(code, errorCode);
  }

  private closedBy(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.gone.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.unsubscribe?.();
    this.unsubscribeRevocations();
    this.onClosed();
    if (this.ready) this.log.info({ code }, 'agent disconnected from WebSocket');
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
