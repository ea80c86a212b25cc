import {
  COMMAND_LIMITS,
  LOG_LIMITS,
  type Command,
  type LogAckMessage,
  type LogEndMessage,
  type LogEndReason,
  type LogMessage,
} from '@niro/protocol';
import { newId } from '../../lib/ids.js';
import type { Logger } from '../../logger.js';
import type { RequestContext } from '../clusters/enrollment.service.js';
import type { CommandsService } from '../commands/commands.service.js';
import type { MessageBus } from '../commands/message-bus.js';
import type { AgentIdentity } from '../heartbeat/heartbeat.service.js';
import type { AccessScope } from '../orgs/access.js';
import {
  agentTopic,
  parseAgentMessage,
  parseReaderMessage,
  readerTopic,
  type AgentMessage,
  type ReaderMessage,
} from './log-relay-messages.js';

export type LogsServiceOptions = {
  /** Expiry of the `logs` command: an agent that does not pick it up by then never will for this reader. */
  commandExpirySeconds: number;
  /** How often a reader checks its `logs` command for the agent's answer (failed, expired). */
  commandPollMs: number;
  /** A `log` nobody confirms holding within this long belongs to no reader: the agent is told to stop. */
  unknownStreamWaitMs: number;
  /** Longest wait for an acknowledgement of a long-poll `log` POST (it answers `stop` then). */
  longPollWaitMs: number;
  /** Longest wait for an acknowledgement of a WebSocket `log` frame (beyond the agent's own timeout). */
  socketWaitMs: number;
  /** After the agent's `log-end`, how long a reader waits for lines that are still on their way. */
  endGraceMs: number;
  /** A finished stream keeps answering `stop` to late messages for this long. */
  tombstoneMs: number;
  /** SSE comment interval, so proxies do not close a quiet follow stream. */
  keepAliveMs: number;
};

export const DEFAULT_LOGS_OPTIONS: LogsServiceOptions = {
  commandExpirySeconds: 60,
  commandPollMs: 250,
  unknownStreamWaitMs: 5_000,
  longPollWaitMs: 30_000,
  socketWaitMs: (LOG_LIMITS.ackTimeoutSeconds + 10) * 1000,
  endGraceMs: 2_000,
  tombstoneMs: 60_000,
  keepAliveMs: 15_000,
};

/** Messages a reader holds that it cannot write yet (a gap in `seq`); more means the agent ignored the window. */
const MAX_HELD_MESSAGES = LOG_LIMITS.window * 2;

export type LogsRequest = {
  namespace: string;
  pod: string;
  container?: string;
  tailLines: number;
  follow: boolean;
};

/** Where a stream's events go; the SSE route implements it over its response. */
export interface LogSink {
  /** Writes one `log` message's lines; false when the reader's buffer is full and `onceDrain` follows. */
  lines(lines: string[]): boolean;
  onceDrain(listener: () => void): void;
  /** Bytes written but not yet taken by the reader's socket. */
  bufferedBytes(): number;
  /** The last event: the stream ended. The sink closes after it. */
  end(reason: LogEndReason, message?: string): void;
  /** The last event: the stream failed or never started. The sink closes after it. */
  error(code: string, message: string): void;
}

export type LogsDeps = {
  commands: CommandsService;
  bus: MessageBus;
  logger: Logger;
};

/**
 * Pod log streams (DESIGN 3.3, HTTP API Logs). A reader opens a stream: a `logs` command goes to
 * the agent through the command queue, and the agent's `log` messages come back over its
 * WebSocket or long-poll POSTs, possibly to another replica, and travel to the reader's replica
 * over the message bus. The reader acknowledges a message only once its socket took the lines,
 * and the agent keeps at most `LOG_LIMITS.window` unacknowledged, so a slow reader slows the
 * agent instead of filling memory in between. A reader that goes away stops the stream: the
 * next acknowledgement says `stop`, and a `logs-stop` command follows for a quiet stream.
 */
export class LogsService {
  readonly options: LogsServiceOptions;
  private readonly readers = new Map<string, ReaderStream>();
  /** Agent-side waits for an acknowledgement, ended at shutdown. */
  private readonly waits = new Set<() => void>();

  constructor(
    private readonly deps: LogsDeps,
    options: Partial<LogsServiceOptions> = {},
  ) {
    this.options = { ...DEFAULT_LOGS_OPTIONS, ...options };
  }

  // -------------------------------------------------------------------------------------------
  // Readers (HTTP API)

  /**
   * Starts a stream for a signed-in reader: checks access, capability and input through the
   * command queue (404, 403, 400, 409 as for any command) and queues the `logs` command. Attach
   * a sink to the returned stream to receive its events.
   */
  async open(scope: AccessScope, clusterId: string, request: LogsRequest, ctx: RequestContext): Promise<LogStream> {
    const streamId = newId();
    const stream = new ReaderStream(streamId, clusterId, scope, ctx, this.deps, this.options, () =>
      this.readers.delete(streamId),
    );
    // Registered before the command exists, so no line can arrive for an unknown stream.
    this.readers.set(streamId, stream);
    const payload: Record<string, unknown> = {
      streamId,
      namespace: request.namespace,
      pod: request.pod,
      tailLines: request.tailLines,
      follow: request.follow,
    };
    if (request.container !== undefined) payload.container = request.container;
    let command: Command;
    try {
      ({ command } = await this.deps.commands.create(
        scope,
        clusterId,
        { kind: 'logs', payload, expiresInSeconds: this.options.commandExpirySeconds },
        ctx,
      ));
    } catch (err) {
      stream.dispose();
      throw err;
    }
    stream.started(command.id);
    return stream;
  }

  /** Streams with a reader right now, and finished ones still answering late messages. */
  get streams(): number {
    return this.readers.size;
  }

  /** A reader's stream by id (for tests and metrics). */
  stream(streamId: string): LogStream | undefined {
    return this.readers.get(streamId);
  }

  // -------------------------------------------------------------------------------------------
  // Agents (agent protocol: `log` and `log-end` over WebSocket or long-poll)

  /**
   * Relays one `log` message to its reader and resolves with the acknowledgement once the reader
   * took it, or with `stop` when the reader is gone, nobody holds the stream, or `maxWaitMs`
   * passed. Resolves `null` when `signal` aborts (the agent's connection went away). Never rejects.
   */
  relayLog(
    agent: AgentIdentity,
    message: LogMessage,
    wait: { maxWaitMs: number; signal?: AbortSignal },
  ): Promise<LogAckMessage | null> {
    const { streamId, seq } = message;
    const { bus, logger } = this.deps;
    return new Promise((resolve) => {
      let done = false;
      // Only timers, bus deliveries and the abort call `finish`, all after the set-up below.
      const finish = (ack: LogAckMessage | null): void => {
        if (done) return;
        done = true;
        clearTimeout(shortTimer);
        clearTimeout(capTimer);
        unsubscribe();
        wait.signal?.removeEventListener('abort', onAbort);
        this.waits.delete(onShutdown);
        resolve(ack);
      };
      const stop = (ackedSeq: number): void =>
        finish({ type: 'log-ack', streamId, seq: Math.max(ackedSeq, -1), stop: true });
      const onAbort = (): void => finish(null);
      const onShutdown = (): void => stop(seq - 1);
      const unsubscribe = bus.subscribe(agentTopic(agent.clusterId, streamId), (text) => {
        const m: AgentMessage | null = parseAgentMessage(text);
        if (m === null) return;
        if (m.t === 'held') {
          if (m.seq === seq) clearTimeout(shortTimer);
          return;
        }
        if (m.stop === true) stop(m.seq);
        else if (m.seq >= seq) finish({ type: 'log-ack', streamId, seq: m.seq });
      });
      const shortTimer = setTimeout(() => {
        logger.debug({ clusterId: agent.clusterId, streamId, seq }, 'no reader holds this log stream; stopping it');
        stop(seq - 1);
      }, this.options.unknownStreamWaitMs);
      const capTimer = setTimeout(() => stop(seq - 1), wait.maxWaitMs);
      if (wait.signal?.aborted === true) return finish(null);
      wait.signal?.addEventListener('abort', onAbort, { once: true });
      this.waits.add(onShutdown);
      const relayed: ReaderMessage = { t: 'log', clusterId: agent.clusterId, seq, lines: message.lines };
      bus.publish(readerTopic(streamId), JSON.stringify(relayed));
    });
  }

  /** Relays the agent's `log-end` to the reader, if there is one. */
  relayEnd(agent: AgentIdentity, message: LogEndMessage): void {
    const relayed: ReaderMessage = { t: 'end', clusterId: agent.clusterId, reason: message.reason };
    if (message.message !== undefined) relayed.message = message.message;
    this.deps.bus.publish(readerTopic(message.streamId), JSON.stringify(relayed));
  }

  /** Ends every stream and every wait, so the server can close. */
  close(): void {
    for (const wake of [...this.waits]) wake();
    for (const stream of [...this.readers.values()]) stream.shutdown();
  }
}

/** A reader's view of its stream. */
export interface LogStream {
  readonly streamId: string;
  readonly commandId: string;
  /** Starts writing events to `sink` (lines that arrived before are written first). */
  attach(sink: LogSink): void;
  /** The reader went away (closed the browser, aborted the request): the agent is told to stop. */
  readerGone(): void;
  /** Figures for tests and metrics. */
  readonly stats: { written: number; acked: number; held: number; bufferedBytes: number; finished: boolean };
}

type Final = { kind: 'end'; reason: LogEndReason; message?: string } | { kind: 'error'; code: string; message: string };

/** The reader's end of one stream: puts the agent's messages in `seq` order and acknowledges what the sink took. */
class ReaderStream implements LogStream {
  commandId = '';
  private sink: LogSink | null = null;
  private nextSeq = 0;
  private lastAcked = -1;
  private written = 0;
  private readonly held = new Map<number, string[]>();
  private waitingDrain = false;
  private drainAckSeq = -1;
  private linesSeen = false;
  private finished = false;
  /** The last event, when it came before a sink was attached. */
  private pendingFinal: Final | null = null;
  private endRequested: { reason: LogEndReason; message?: string } | null = null;
  private endTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private tombstoneTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private readonly log: Logger;

  constructor(
    readonly streamId: string,
    private readonly clusterId: string,
    private readonly scope: AccessScope,
    private readonly ctx: RequestContext,
    private readonly deps: LogsDeps,
    private readonly options: LogsServiceOptions,
    private readonly onDisposed: () => void,
  ) {
    this.log = deps.logger.child({ clusterId, streamId });
    this.unsubscribe = deps.bus.subscribe(readerTopic(streamId), (text) => this.receive(text));
  }

  get stats(): LogStream['stats'] {
    return {
      written: this.written,
      acked: this.lastAcked + 1,
      held: this.held.size,
      bufferedBytes: this.sink?.bufferedBytes() ?? 0,
      finished: this.finished,
    };
  }

  started(commandId: string): void {
    this.commandId = commandId;
    this.log.info({ commandId }, 'log stream opened');
    this.schedulePoll();
  }

  attach(sink: LogSink): void {
    this.sink = sink;
    if (this.pendingFinal !== null) return this.emitFinal(this.pendingFinal);
    this.pump();
  }

  readerGone(): void {
    if (this.finished) return;
    this.log.info({ written: this.written }, 'log stream reader went away; stopping the stream');
    this.finish(null);
    // Whatever is in flight gets `stop` as its acknowledgement...
    this.publishAgent(this.clusterId, { t: 'ack', seq: this.lastAcked, stop: true });
    // ...and a quiet follow stream with nothing in flight hears it through the command queue.
    this.deps.commands
      .create(
        this.scope,
        this.clusterId,
        {
          kind: 'logs-stop',
          payload: { streamId: this.streamId },
          expiresInSeconds: Math.max(COMMAND_LIMITS.minExpirySeconds, this.options.commandExpirySeconds),
        },
        this.ctx,
      )
      .catch((err: unknown) => this.log.warn({ err }, 'could not queue logs-stop for a stream whose reader left'));
  }

  /** Server shutdown: the reader hears it and reconnects to another replica or after the restart. */
  shutdown(): void {
    if (this.finished) {
      this.dispose();
      return;
    }
    this.finish({
      kind: 'error',
      code: 'server_shutting_down',
      message: 'The server is shutting down; open the stream again',
    });
    this.publishAgent(this.clusterId, { t: 'ack', seq: this.lastAcked, stop: true });
    this.dispose();
  }

  /** Forgets the stream at once (its command could not be queued, or after the tombstone time). */
  dispose(): void {
    this.finished = true;
    clearTimeout(this.endTimer);
    clearTimeout(this.pollTimer);
    clearTimeout(this.tombstoneTimer);
    this.unsubscribe();
    this.onDisposed();
  }

  private receive(text: string): void {
    const m = parseReaderMessage(text);
    if (m === null) {
      this.log.warn('ignored a malformed relayed log message');
      return;
    }
    if (m.clusterId !== this.clusterId) {
      // Another cluster's agent names this stream: never show its lines to this reader.
      this.log.warn(
        { otherClusterId: m.clusterId },
        'a log message for this stream came from another cluster; refused',
      );
      if (m.t === 'log') this.publishAgent(m.clusterId, { t: 'ack', seq: m.seq - 1, stop: true });
      return;
    }
    if (this.finished) {
      if (m.t === 'log') this.publishAgent(this.clusterId, { t: 'ack', seq: this.lastAcked, stop: true });
      return;
    }
    if (m.t === 'end') {
      this.endRequested = m.message === undefined ? { reason: m.reason } : { reason: m.reason, message: m.message };
      this.pump();
      return;
    }
    if (m.seq < this.nextSeq) {
      // A repeat of a message already written: confirm what the reader has, or that it is held.
      if (m.seq <= this.lastAcked) this.publishAgent(this.clusterId, { t: 'ack', seq: this.lastAcked });
      else this.publishAgent(this.clusterId, { t: 'held', seq: m.seq });
      return;
    }
    if (!this.held.has(m.seq) && this.held.size >= MAX_HELD_MESSAGES) {
      this.log.warn({ seq: m.seq, expected: this.nextSeq }, 'the agent sent more log messages than its window allows');
      this.finish({
        kind: 'error',
        code: 'log_stream_overrun',
        message: `The agent sent more than ${LOG_LIMITS.window} unacknowledged log messages; the stream was stopped`,
      });
      this.publishAgent(this.clusterId, { t: 'ack', seq: this.lastAcked, stop: true });
      return;
    }
    this.held.set(m.seq, m.lines);
    this.linesSeen = true;
    this.pump();
    if (this.held.has(m.seq)) this.publishAgent(this.clusterId, { t: 'held', seq: m.seq });
  }

  /** Writes what is next in order, acknowledging what the sink took at once and the rest after 'drain'. */
  private pump(): void {
    const sink = this.sink;
    if (sink === null || this.finished) return;
    for (let lines = this.held.get(this.nextSeq); lines !== undefined; lines = this.held.get(this.nextSeq)) {
      this.held.delete(this.nextSeq);
      const seq = this.nextSeq++;
      const accepted = sink.lines(lines);
      this.written++;
      if (accepted && !this.waitingDrain) {
        this.ack(seq);
        continue;
      }
      this.drainAckSeq = seq;
      this.publishAgent(this.clusterId, { t: 'held', seq });
      if (!this.waitingDrain) {
        this.waitingDrain = true;
        sink.onceDrain(() => this.drained());
      }
    }
    if (this.endRequested === null) return;
    const end = this.endRequested;
    if (this.held.size === 0) {
      this.finish({ kind: 'end', ...end });
    } else {
      // A gap: lines sent before the end may still be on their way through another replica.
      this.endTimer ??= setTimeout(() => this.finish({ kind: 'end', ...end }), this.options.endGraceMs);
    }
  }

  private drained(): void {
    this.waitingDrain = false;
    if (this.finished) return;
    this.ack(this.drainAckSeq);
    this.pump();
  }

  private ack(seq: number): void {
    this.lastAcked = seq;
    this.publishAgent(this.clusterId, { t: 'ack', seq });
  }

  private publishAgent(clusterId: string, message: AgentMessage): void {
    this.deps.bus.publish(agentTopic(clusterId, this.streamId), JSON.stringify(message));
  }

  /** Watches the `logs` command for an answer that means no lines will come (failed, expired, cancelled). */
  private schedulePoll(): void {
    if (this.finished) return;
    this.pollTimer = setTimeout(() => void this.checkCommand(), this.options.commandPollMs);
  }

  private async checkCommand(): Promise<void> {
    if (this.finished) return;
    let command: Command;
    try {
      command = await this.deps.commands.get(this.scope, this.commandId);
    } catch (err) {
      this.log.debug({ err }, 'could not read a logs command; trying again');
      this.schedulePoll();
      return;
    }
    if (this.finished) return;
    switch (command.state) {
      case 'failed':
        this.finish({
          kind: 'error',
          code: command.error?.code ?? 'logs_failed',
          message: command.error?.message ?? 'The agent could not stream these logs',
        });
        return;
      case 'expired':
        if (!this.linesSeen) {
          this.finish({
            kind: 'error',
            code: 'command_expired',
            message: `The agent did not start the log stream within ${this.options.commandExpirySeconds} s; is it connected?`,
          });
        }
        return;
      case 'cancelled':
        if (!this.linesSeen) {
          this.finish({ kind: 'error', code: 'command_cancelled', message: 'The logs command was cancelled' });
        }
        return;
      case 'succeeded':
      case 'partial':
        // The stream runs; its lines and end come as messages.
        return;
      case 'queued':
      case 'delivered':
        this.schedulePoll();
        return;
    }
  }

  /** Ends the stream for good; `final` is the reader's last event (none when the reader left). */
  private finish(final: Final | null): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.endTimer);
    clearTimeout(this.pollTimer);
    const unanswered = this.waitingDrain || this.held.size > 0;
    this.held.clear();
    if (final !== null && unanswered) {
      // The agent's side still waits on messages the sink took or held: the last written one is
      // delivered (ending the response flushes it after the lines), anything else stops.
      if (this.waitingDrain && final.kind === 'end') this.ack(this.drainAckSeq);
      this.waitingDrain = false;
      this.publishAgent(this.clusterId, { t: 'ack', seq: this.lastAcked, stop: true });
    }
    if (final !== null) {
      this.log.info(
        { written: this.written, final: final.kind === 'end' ? final.reason : final.code },
        'log stream ended',
      );
      if (this.sink === null) this.pendingFinal = final;
      else this.emitFinal(final);
    }
    // Late messages of this stream are told to stop for a while, then the stream is forgotten.
    this.tombstoneTimer = setTimeout(() => this.dispose(), this.options.tombstoneMs);
    this.tombstoneTimer.unref();
  }

  private emitFinal(final: Final): void {
    if (final.kind === 'end') this.sink?.end(final.reason, final.message);
    else this.sink?.error(final.code, final.message);
  }
}
