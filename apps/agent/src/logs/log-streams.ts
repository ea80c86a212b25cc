import type {
  CommandMessage,
  CommandResultBody,
  LogAckMessage,
  LogEndMessage,
  LogMessage,
  LogsPayload,
} from '@niro/protocol';
import { LOG_LIMITS } from '@niro/protocol/commands';
import type { Readable } from 'node:stream';
import { checkLogsPayload, checkLogsStopPayload } from '../commands/payloads.js';
import type { CommandHandler } from '../commands/executor.js';
import { failure } from '../commands/results.js';
import { isRecord } from '../kube/kube-object.js';
import { KubeApiError, KubeClientError } from '../kube/kube-errors.js';
import type { KubeApi } from '../kube/types.js';
import type { Logger } from '../logger.js';
import {
  LogSendError,
  LogStream,
  parseLogAck,
  type LogOutbound,
  type LogStreamSettings,
  type LogStreamStats,
} from './log-stream.js';

/**
 * Where log messages go: the command channel's connection. `send` resolves with an
 * acknowledgement when the transport answers with one (long-poll: the POST's reply), or null
 * (WebSocket: acknowledgements arrive as frames, through `LogStreams.ack`); it rejects with
 * LogSendError when the message did not get through.
 */
export type LogSink = { send(message: LogOutbound): Promise<LogAckMessage | null> };

export type LogStreamsOptions = {
  api: KubeApi;
  logger: Logger;
  /** Streams at once; more are refused with `too_many_streams`. Default 16. */
  maxStreams?: number;
  /** How long the `logs` command waits for the API's answer before it reports the stream started. Default 2 s. */
  openWaitMs?: number;
  settings?: Partial<LogStreamSettings>;
  now?: () => number;
};

const DEFAULT_MAX_STREAMS = 16;
/** The API server sends a follow stream's headers with its first bytes, so an empty log answers late. */
const DEFAULT_OPEN_WAIT_MS = 2_000;
/** Requests for an empty log that is followed answer only with its first line: no deadline while it runs. */
const FOLLOW_OPEN_TIMEOUT_MS = 24 * 3600_000;
/** Ends of streams whose connection was lost, kept to send after reconnecting. */
const MAX_PENDING_ENDS = 64;

/**
 * The agent's log streams (`logs` / `logs-stop` commands, DESIGN 3.3): opens the Kubernetes log
 * request, pumps it as `log` messages through the current connection, routes acknowledgements,
 * and ends streams whose connection is lost (their `log-end` goes out after the reconnect).
 */
export class LogStreams {
  readonly handlers: { logs: CommandHandler; 'logs-stop': CommandHandler };
  readonly #streams = new Map<string, LogStream>();
  readonly #settings: LogStreamSettings;
  readonly #pendingEnds: LogEndMessage[] = [];
  readonly #log: Logger;
  readonly #now: () => number;
  #sink: LogSink | null = null;

  constructor(private readonly options: LogStreamsOptions) {
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    this.#settings = {
      lineBytes: LOG_LIMITS.lineBytes,
      chunkBytes: LOG_LIMITS.chunkBytes,
      chunkLines: LOG_LIMITS.chunkLines,
      window: LOG_LIMITS.window,
      ackTimeoutMs: LOG_LIMITS.ackTimeoutSeconds * 1000,
      flushAfterMs: 100,
      ...options.settings,
    };
    this.handlers = { logs: (cmd) => this.#start(cmd), 'logs-stop': (cmd) => this.#stop(cmd) };
  }

  /** Streams running now. */
  get active(): number {
    return this.#streams.size;
  }

  /** A connection is up: messages go through `sink`; ends kept from a lost connection go out now. */
  attach(sink: LogSink): void {
    this.#sink = sink;
    void this.flushEnds();
  }

  /** The connection is gone: every stream ends (`error`), its `log-end` kept for the next connection. */
  detach(): void {
    this.#sink = null;
    for (const stream of [...this.#streams.values()]) stream.finish('error', 'connection to Niro lost');
  }

  /** An incoming `log-ack` (checked here: it comes off the network). */
  ack(frame: unknown): void {
    const ack = parseLogAck(frame);
    if (ack === null) {
      this.#log.warn('the server sent a log-ack this agent cannot read');
      return;
    }
    this.#streams.get(ack.streamId)?.ack(ack);
  }

  /** Sends the kept ends of streams cut off by a lost connection; those that fail again stay kept. */
  async flushEnds(): Promise<void> {
    const ends = this.#pendingEnds.splice(0);
    for (const end of ends) await this.#deliverEnd(end);
  }

  /** The agent stops: every stream ends (`error`), without waiting for delivery. */
  stopAll(): void {
    for (const stream of [...this.#streams.values()]) stream.finish('error', 'the agent is stopping');
  }

  async #start(cmd: CommandMessage): Promise<CommandResultBody> {
    const checked = checkLogsPayload(isRecord(cmd.payload) ? cmd.payload : {});
    if (!checked.ok)
      return { status: 'failed', error: failure('invalid_payload', `invalid payload: ${checked.message}`) };
    const payload = checked.value;
    const { streamId } = payload;
    if (this.#streams.has(streamId)) {
      return { status: 'failed', error: failure('stream_exists', `log stream ${streamId} is already running`) };
    }
    const max = this.options.maxStreams ?? DEFAULT_MAX_STREAMS;
    if (this.#streams.size >= max) {
      return {
        status: 'failed',
        error: failure('too_many_streams', `this agent already runs ${max} log streams; stop one first`),
      };
    }
    const started = this.#now();
    const log = this.#log.child({ streamId, commandId: cmd.id });
    const stream = new LogStream({
      streamId,
      settings: this.#settings,
      logger: log,
      send: (message) => this.#send(message),
      finished: () => {
        if (this.#streams.get(streamId) === stream) this.#streams.delete(streamId);
      },
      ended: (end, stats) => this.#ended(end, stats, log, started),
    });
    this.#streams.set(streamId, stream);
    log.info(
      {
        namespace: payload.namespace,
        pod: payload.pod,
        container: payload.container,
        follow: payload.follow === true,
        tailLines: payload.tailLines ?? LOG_LIMITS.defaultTailLines,
      },
      'log stream starting',
    );

    const opening = this.#open(payload, stream.signal).then(
      (body) => ({ ok: true as const, body }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    const waited = await Promise.race([opening, delay(this.options.openWaitMs ?? DEFAULT_OPEN_WAIT_MS)]);
    if (waited !== undefined && !waited.ok) {
      const message = openErrorText(waited.err);
      stream.finish('error', message);
      return { status: 'failed', error: failure(openErrorCode(waited.err), message) };
    }
    // Read only after the result is on its way, so Niro hears of the stream before its lines.
    void opening.then((opened) =>
      setImmediate(() => {
        if (opened.ok) stream.start(opened.body);
        else stream.finish('error', openErrorText(opened.err));
      }),
    );
    return { status: 'succeeded', result: { streamId } };
  }

  async #stop(cmd: CommandMessage): Promise<CommandResultBody> {
    const checked = checkLogsStopPayload(isRecord(cmd.payload) ? cmd.payload : {});
    if (!checked.ok)
      return { status: 'failed', error: failure('invalid_payload', `invalid payload: ${checked.message}`) };
    const stream = this.#streams.get(checked.value.streamId);
    stream?.finish('stopped');
    return { status: 'succeeded', result: { streamId: checked.value.streamId, stopped: stream !== undefined } };
  }

  #open(payload: LogsPayload, signal: AbortSignal): Promise<Readable> {
    const path = `/api/v1/namespaces/${encodeURIComponent(payload.namespace)}/pods/${encodeURIComponent(payload.pod)}/log`;
    const follow = payload.follow === true;
    return this.options.api.stream(path, {
      query: {
        container: payload.container,
        follow: follow ? true : undefined,
        tailLines: payload.tailLines ?? LOG_LIMITS.defaultTailLines,
      },
      signal,
      ...(follow ? { timeoutMs: FOLLOW_OPEN_TIMEOUT_MS } : {}),
    });
  }

  async #send(message: LogMessage): Promise<LogAckMessage | null> {
    const sink = this.#sink;
    if (sink === null) throw new LogSendError(true, 'not connected');
    return sink.send(message);
  }

  #ended(end: LogEndMessage, stats: LogStreamStats, log: Logger, started: number): void {
    log.info(
      { reason: end.reason, message: end.message, ...stats, durationMs: this.#now() - started },
      'log stream ended',
    );
    void this.#deliverEnd(end);
  }

  async #deliverEnd(end: LogEndMessage): Promise<void> {
    const sink = this.#sink;
    try {
      if (sink === null) throw new LogSendError(true, 'not connected');
      await sink.send(end);
    } catch (err) {
      if (err instanceof LogSendError && !err.lost) return;
      if (this.#pendingEnds.length < MAX_PENDING_ENDS) this.#pendingEnds.push(end);
    }
  }
}

const delay = (ms: number): Promise<undefined> =>
  new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());

function openErrorText(err: unknown): string {
  if (err instanceof KubeApiError || err instanceof KubeClientError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

function openErrorCode(err: unknown): string {
  if (err instanceof KubeApiError) return err.status === 404 ? 'not_found' : 'kube_api_error';
  return 'kube_unreachable';
}
