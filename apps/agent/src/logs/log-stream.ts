import type { Readable } from 'node:stream';
import type { LogAckMessage, LogEndMessage, LogMessage } from '@niro/protocol';
import type { LogEndReason } from '@niro/protocol/commands';
import { isRecord } from '../kube/kube-object.js';
import type { Logger } from '../logger.js';
import { LogBatcher, LogLineSplitter, type LineLimits } from './log-lines.js';

export type LogOutbound = LogMessage | LogEndMessage;

/** Why a message could not be sent: the connection is gone (`lost`), or Niro refused it (the stream is over there). */
export class LogSendError extends Error {
  constructor(
    readonly lost: boolean,
    message: string,
  ) {
    super(message);
    this.name = 'LogSendError';
  }
}

export type LogStreamSettings = LineLimits & {
  /** Unacknowledged `log` messages at most. */
  window: number;
  /** A full window without an acknowledgement for this long ends the stream. */
  ackTimeoutMs: number;
  /** A partial batch goes out this long after its first line, so a trickling log shows promptly. */
  flushAfterMs: number;
};

export type LogStreamStats = { lines: number; messages: number; bytes: number; maxUnacked: number };

export type LogStreamOptions = {
  streamId: string;
  settings: LogStreamSettings;
  logger: Logger;
  /** Sends a `log` message; resolves with an acknowledgement when the transport answers with one (long-poll). */
  send: (message: LogMessage) => Promise<LogAckMessage | null>;
  /** The stream is over: called at once, so it no longer counts as running. */
  finished: () => void;
  /** Delivers the stream's last message, after every `log` message handed over before it. */
  ended: (message: LogEndMessage, stats: LogStreamStats) => void;
};

/**
 * One log stream's pump: bytes from the Kubernetes API → lines → `log` messages, with at most
 * `window` of them unacknowledged. When the window is full the API response is paused, so TCP
 * back-pressure slows the API server instead of a buffer growing here. Never logs line content.
 */
export class LogStream {
  readonly streamId: string;
  readonly stats: LogStreamStats = { lines: 0, messages: 0, bytes: 0, maxUnacked: 0 };
  readonly #abort = new AbortController();
  readonly #splitter: LogLineSplitter;
  readonly #batcher: LogBatcher;
  readonly #ready: LogMessage[] = [];
  #body: Readable | undefined;
  #chain: Promise<void> = Promise.resolve();
  #nextSeq = 0;
  /** Highest seq handed to the transport, and highest acknowledged. */
  #sentSeq = -1;
  #ackedSeq = -1;
  #eof = false;
  #ended = false;
  /** Set when the stream is cut short: messages not yet sent are dropped. */
  #discard = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #ackTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LogStreamOptions) {
    this.streamId = options.streamId;
    this.#splitter = new LogLineSplitter(options.settings.lineBytes);
    this.#batcher = new LogBatcher(options.settings, (lines) => {
      this.#ready.push({ type: 'log', streamId: this.streamId, seq: this.#nextSeq++, lines });
    });
  }

  /** Aborts the Kubernetes request (opening or open) when the stream ends. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get isEnded(): boolean {
    return this.#ended;
  }

  /** Starts reading `body` (the API's answer). */
  start(body: Readable): void {
    if (this.#ended) {
      body.destroy();
      return;
    }
    this.#body = body;
    body.on('data', (chunk: Buffer) => this.#onData(chunk));
    body.once('end', () => this.#onEof());
    body.on('error', (err) => this.finish('error', `reading the log failed: ${err.message}`));
    body.once('close', () => {
      if (!this.#eof) this.finish('error', 'the Kubernetes API closed the log stream');
    });
  }

  /** An acknowledgement from Niro: `seq` and everything before it was taken. */
  ack(ack: LogAckMessage): void {
    if (this.#ended) return;
    if (ack.seq > this.#ackedSeq) {
      this.#ackedSeq = Math.min(ack.seq, this.#sentSeq);
      clearTimeout(this.#ackTimer);
      this.#ackTimer = undefined;
    }
    if (ack.stop === true) {
      this.finish('stopped');
      return;
    }
    this.#pump();
  }

  /** Ends the stream (stopped, failed, or the connection is gone); idempotent. */
  finish(reason: LogEndReason, message?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#discard = reason !== 'eof';
    clearTimeout(this.#flushTimer);
    clearTimeout(this.#ackTimer);
    this.#ready.length = 0;
    if (!this.#eof || reason !== 'eof') {
      this.#abort.abort();
      this.#body?.destroy();
    }
    this.options.finished();
    const end: LogEndMessage = { type: 'log-end', streamId: this.streamId, reason };
    if (message !== undefined) end.message = message.slice(0, 4096);
    // After the `log` messages already handed over, so the end never overtakes them.
    this.#chain = this.#chain.then(() => this.options.ended(end, this.stats));
  }

  #onData(chunk: Buffer): void {
    if (this.#ended) return;
    this.stats.bytes += chunk.length;
    this.#splitter.push(chunk, (line) => this.#addLine(line));
    if (this.#batcher.pending > 0 && this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        this.#batcher.flush();
        this.#pump();
      }, this.options.settings.flushAfterMs);
    }
    this.#pump();
  }

  #addLine(line: string): void {
    this.stats.lines += 1;
    this.#batcher.add(line);
  }

  #onEof(): void {
    if (this.#ended) return;
    this.#eof = true;
    this.#splitter.end((line) => this.#addLine(line));
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#batcher.flush();
    this.#pump();
  }

  /** Hands ready messages to the transport while the window allows; pauses or resumes the API read. */
  #pump(): void {
    if (this.#ended) return;
    const { window } = this.options.settings;
    while (this.#ready.length > 0 && this.#sentSeq - this.#ackedSeq < window) {
      const message = this.#ready.shift();
      if (message === undefined) break;
      this.#sentSeq = message.seq;
      this.stats.messages += 1;
      this.stats.maxUnacked = Math.max(this.stats.maxUnacked, this.#sentSeq - this.#ackedSeq);
      this.#chain = this.#chain.then(() => this.#send(message));
    }
    const full = this.#sentSeq - this.#ackedSeq >= window;
    if (full && this.#ackTimer === undefined) {
      const seconds = this.options.settings.ackTimeoutMs / 1000;
      this.#ackTimer = setTimeout(
        () => this.finish('error', `no acknowledgement from Niro for ${seconds} s`),
        this.options.settings.ackTimeoutMs,
      );
    }
    if (this.#eof) {
      if (this.#ready.length === 0) this.finish('eof');
      return;
    }
    if (this.#ready.length > 0 || full) this.#body?.pause();
    else this.#body?.resume();
  }

  async #send(message: LogMessage): Promise<void> {
    if (this.#discard) return;
    let ack: LogAckMessage | null;
    try {
      ack = await this.options.send(message);
    } catch (err) {
      if (err instanceof LogSendError && !err.lost) {
        this.options.logger.debug({ streamId: this.streamId, err: err.message }, 'Niro refused a log message');
        this.finish('stopped');
      } else {
        this.finish('error', 'connection to Niro lost');
      }
      return;
    }
    if (ack !== null) this.ack(ack);
  }
}

/** A `log-ack` frame or long-poll reply, checked by hand (the agent does not load TypeBox). */
export function parseLogAck(x: unknown): LogAckMessage | null {
  if (!isRecord(x)) return null;
  const { type, streamId, seq, stop } = x;
  if (type !== 'log-ack' || typeof streamId !== 'string' || typeof seq !== 'number' || !Number.isInteger(seq)) {
    return null;
  }
  if (seq < -1 || (stop !== undefined && typeof stop !== 'boolean')) return null;
  const ack: LogAckMessage = { type: 'log-ack', streamId, seq };
  if (stop === true) ack.stop = true;
  return ack;
}
