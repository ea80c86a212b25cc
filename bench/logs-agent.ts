/**
 * Simulated log-streaming agents for bench/logs.bench.ts: `ws` clients that say hello, answer
 * `logs` and `logs-stop` commands, and feed each stream `log` frames of one prepared chunk (up to
 * LOG_LIMITS.chunkBytes of lines) with at most LOG_LIMITS.window unacknowledged, as the real agent.
 * The first line of every chunk carries the time it was sent, so a reader can time each message.
 */
import { performance } from 'node:perf_hooks';
import { LOG_LIMITS } from '@niro/protocol';
import WebSocket from 'ws';

const CONNECT_PATH = '/api/agent/v1/connect';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The lines of one `log` message but its first (the timing marker), as JSON array items. */
export type LogChunk = { lines: number; lineBytes: number; restJson: string };

/** A chunk of realistic access-log lines, `LOG_LIMITS.chunkBytes` of them in all (marker included). */
export function buildChunk(): LogChunk {
  const budget = LOG_LIMITS.chunkBytes - 64; // room for the marker line
  const rest: string[] = [];
  let bytes = 0;
  for (let i = 0; ; i++) {
    const line =
      `2026-11-25T19:26:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z INFO  http ` +
      `request_id=${(i * 2654435761).toString(16).padStart(8, '0')} method=GET path="/api/v1/items/${i}?page=${i % 7}" ` +
      `status=${i % 13 === 0 ? 404 : 200} duration_ms=${(i * 37) % 250} user_agent="Mozilla/5.0 (X11; Linux x86_64)"`;
    const size = Buffer.byteLength(line);
    if (bytes + size > budget || rest.length + 1 >= LOG_LIMITS.chunkLines) break;
    rest.push(line);
    bytes += size;
  }
  const restJson = rest.map((l) => JSON.stringify(l)).join(',');
  return { lines: rest.length + 1, lineBytes: bytes + 40, restJson };
}

/** The marker line: `T<send time in ms> S<seq>` padded to 40 bytes; readers find it with MARKER. */
export const marker = (seq: number): string => `T${performance.now().toFixed(3)} S${seq} `.padEnd(40, '.');
export const MARKER = /"T(\d+\.\d+) S(\d+) /;

export type PumpMode = { kind: 'idle' } | { kind: 'max' } | { kind: 'paced'; bytesPerSecond: number };

/**
 * One stream's sender: `log` frames while the window allows (and, paced, while the rate allows),
 * `log-end` after `limit` messages or when told to stop.
 */
export class LogPump {
  /** Next seq to send; highest acknowledged. */
  seq = 0;
  acked = -1;
  stopped = false;
  /** When the stop arrived (performance.now), by a `stop` acknowledgement or a `logs-stop` command. */
  stoppedAt = 0;
  sentLineBytes = 0;
  sentFrameBytes = 0;
  private mode: PumpMode;
  private allowance = 0;
  private lastTick = performance.now();
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    readonly streamId: string,
    private readonly chunk: LogChunk,
    private readonly send: (frame: string) => void,
    mode: PumpMode,
    /** Messages to send before `log-end` eof (a non-follow stream); unbounded when absent. */
    private readonly limit = Number.POSITIVE_INFINITY,
  ) {
    this.mode = mode;
    this.setMode(mode);
  }

  /**
   * `head`: the share of one chunk a paced pump has banked at the start, so pumps started together
   * can be spread over the interval instead of all sending in the same tick.
   */
  setMode(mode: PumpMode, head = 0): void {
    this.mode = mode;
    clearInterval(this.ticker);
    this.ticker = undefined;
    this.allowance = head * this.chunk.lineBytes;
    if (mode.kind === 'paced') {
      this.lastTick = performance.now();
      this.ticker = setInterval(() => this.tick(), 10);
    }
    this.pump();
  }

  onAck(seq: number, stop: boolean): void {
    if (seq > this.acked) this.acked = seq;
    if (stop) this.stop();
    else this.pump();
  }

  /** The reader left: end the stream as the agent does (`log-end` stopped). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stoppedAt = performance.now();
    clearInterval(this.ticker);
    this.send(JSON.stringify({ type: 'log-end', streamId: this.streamId, reason: 'stopped' }));
  }

  close(): void {
    this.stopped = true;
    clearInterval(this.ticker);
  }

  private tick(): void {
    if (this.mode.kind !== 'paced') return;
    const now = performance.now();
    // At most two chunks banked, so a blocked window does not turn into a burst.
    this.allowance = Math.min(
      this.allowance + ((now - this.lastTick) / 1000) * this.mode.bytesPerSecond,
      2 * this.chunk.lineBytes,
    );
    this.lastTick = now;
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.mode.kind !== 'idle' && this.seq - this.acked - 1 < LOG_LIMITS.window) {
      if (this.seq >= this.limit) {
        this.stopped = true;
        this.send(JSON.stringify({ type: 'log-end', streamId: this.streamId, reason: 'eof' }));
        return;
      }
      if (this.mode.kind === 'paced') {
        if (this.allowance < this.chunk.lineBytes) return;
        this.allowance -= this.chunk.lineBytes;
      }
      const seq = this.seq++;
      const frame =
        `{"type":"log","streamId":${JSON.stringify(this.streamId)},"seq":${seq},` +
        `"lines":[${JSON.stringify(marker(seq))},${this.chunk.restJson}]}`;
      this.send(frame);
      this.sentLineBytes += this.chunk.lineBytes;
      this.sentFrameBytes += frame.length;
    }
  }
}

/** How the agent serves a `logs` command: the pump's mode and message limit. */
export type StreamPlan = { mode: PumpMode; limit?: number };

/** One cluster's agent on the WebSocket gateway, serving its `logs` commands with pumps. */
export class LogAgent {
  readonly pumps = new Map<string, LogPump>();
  errors = 0;
  private readonly started: ((pump: LogPump) => void)[] = [];

  private constructor(
    private readonly ws: WebSocket,
    private readonly chunk: LogChunk,
    private readonly plan: () => StreamPlan,
  ) {
    ws.on('message', (data: Buffer) => this.onFrame(data));
    ws.on('error', () => this.errors++);
  }

  static async connect(baseUrl: string, agentKey: string, chunk: LogChunk, plan: () => StreamPlan): Promise<LogAgent> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${CONNECT_PATH}`, {
      headers: { authorization: `Bearer ${agentKey}` },
      perMessageDeflate: false,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const agent = new LogAgent(ws, chunk, plan);
    ws.send(JSON.stringify({ type: 'hello', version: '0.1.0-bench', protocol: 1 }));
    return agent;
  }

  /** The next stream this agent starts. */
  nextStream(): Promise<LogPump> {
    return new Promise((resolve) => this.started.push(resolve));
  }

  close(): void {
    for (const pump of this.pumps.values()) pump.close();
    this.ws.terminate();
  }

  private onFrame(data: Buffer): void {
    const frame: unknown = JSON.parse(data.toString('utf8'));
    if (!isRecord(frame)) return;
    if (frame.type === 'log-ack' && typeof frame.streamId === 'string' && typeof frame.seq === 'number') {
      this.pumps.get(frame.streamId)?.onAck(frame.seq, frame.stop === true);
    } else if (frame.type === 'command' && typeof frame.id === 'string') {
      this.onCommand(frame.id, frame.kind, isRecord(frame.payload) ? frame.payload : {});
    } else if (frame.type === 'error') {
      this.errors++;
    }
  }

  private onCommand(id: string, kind: unknown, payload: Record<string, unknown>): void {
    const send = (frame: string): void => this.ws.send(frame);
    send(JSON.stringify({ type: 'ack', id }));
    const streamId = typeof payload.streamId === 'string' ? payload.streamId : '';
    if (kind === 'logs') {
      send(JSON.stringify({ type: 'result', id, status: 'succeeded', result: { streamId } }));
      const plan = this.plan();
      const pump = new LogPump(streamId, this.chunk, send, plan.mode, plan.limit);
      this.pumps.set(streamId, pump);
      this.started.shift()?.(pump);
    } else if (kind === 'logs-stop') {
      const pump = this.pumps.get(streamId);
      pump?.stop();
      send(
        JSON.stringify({ type: 'result', id, status: 'succeeded', result: { streamId, stopped: pump !== undefined } }),
      );
    } else {
      send(JSON.stringify({ type: 'result', id, status: 'succeeded', result: {} }));
    }
  }
}
