/**
 * Server-sent-event readers for bench/logs.bench.ts over node:http: a fast reader that takes every
 * byte at once and times each `lines` event from the marker line the simulated agent put first,
 * and a slow reader that takes about 1 KB/s from a socket it otherwise leaves paused.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { MARKER } from './logs-agent.js';

const SEPARATOR = '\n\n';

/** Takes everything at once; counts `lines` events and their latency (marker send time → event parsed). */
export class FastReader {
  /** `lines` events so far. */
  messages = 0;
  /** Latencies of `lines` events since the last `takeLatencies()`, ms. */
  private latencies: number[] = [];
  openData = '';
  final: { event: string; data: string } | null = null;
  /** performance.now of the first `lines` event, and of the end of the response. */
  firstLinesAt = 0;
  endedAt = 0;
  private buffer = '';
  private scanFrom = 0;
  private readonly waiters: { test: () => boolean; resolve: () => void; reject: (err: Error) => void }[] = [];

  private constructor(private readonly req: http.ClientRequest) {}

  /** Opens `url`; resolves once the response headers arrived (rejects on a status other than 200). */
  static open(url: string, token?: string): Promise<FastReader> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const req = http.get(url, { headers });
      const reader = new FastReader(req);
      req.once('error', reject);
      req.once('response', (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => reject(new Error(`GET ${url}: ${res.statusCode ?? 0} ${body.slice(0, 300)}`)));
          return;
        }
        req.on('error', () => undefined);
        res.on('error', () => undefined);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => reader.onData(chunk));
        res.on('close', () => {
          reader.endedAt = performance.now();
          reader.wake(true);
        });
        resolve(reader);
      });
    });
  }

  takeLatencies(): number[] {
    return this.latencies.splice(0);
  }

  /** Resolves when `messages` reaches `count`. */
  untilMessages(count: number): Promise<void> {
    return this.until(() => this.messages >= count);
  }

  /** Resolves when the response ended (after an `end` or `error` event, or a dropped connection). */
  untilEnd(): Promise<void> {
    return this.until(() => this.endedAt > 0);
  }

  /** Drops the connection, as a closed browser tab does. */
  abort(): void {
    this.req.destroy();
  }

  private until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ test, resolve, reject }));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let cut = 0;
    for (let i = this.buffer.indexOf(SEPARATOR, this.scanFrom); i >= 0; i = this.buffer.indexOf(SEPARATOR, cut)) {
      this.onEvent(this.buffer.slice(cut, i));
      cut = i + SEPARATOR.length;
    }
    if (cut > 0) this.buffer = this.buffer.slice(cut);
    // A separator may straddle two chunks.
    this.scanFrom = Math.max(0, this.buffer.length - 1);
    this.wake(false);
  }

  private onEvent(block: string): void {
    if (block.startsWith(':')) return;
    const newline = block.indexOf('\n');
    const event = block.startsWith('event: ') && newline > 0 ? block.slice(7, newline) : 'message';
    if (event !== 'lines') {
      const data = block.slice(newline + 1).replace(/^data: /, '');
      if (event === 'open') this.openData = data;
      else this.final = { event, data };
      return;
    }
    const now = performance.now();
    if (this.messages === 0) this.firstLinesAt = now;
    this.messages++;
    const m = MARKER.exec(block.slice(0, 200));
    if (m?.[1] !== undefined) this.latencies.push(now - Number(m[1]));
  }

  private wake(closed: boolean): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (w === undefined) continue;
      if (w.test()) {
        this.waiters.splice(i, 1);
        w.resolve();
      } else if (closed) {
        this.waiters.splice(i, 1);
        w.reject(new Error(`the stream closed after ${this.messages} lines events (${this.final?.data ?? 'no end'})`));
      }
    }
  }
}

/**
 * Reads `bytesPerTick` every `tickMs` and never more: nothing listens for 'data', so the response
 * stays paused and the socket is read only as far as its small buffers let `read()` go.
 */
export class SlowReader {
  bytesRead = 0;
  status = 0;
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly req: http.ClientRequest) {}

  static open(url: string, token: string, bytesPerTick = 128, tickMs = 125): Promise<SlowReader> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
      const reader = new SlowReader(req);
      req.once('error', reject);
      req.once('response', (res) => {
        reader.status = res.statusCode ?? 0;
        req.on('error', () => undefined);
        res.on('error', () => undefined);
        reader.timer = setInterval(() => {
          const chunk: unknown = res.read(bytesPerTick);
          if (Buffer.isBuffer(chunk)) reader.bytesRead += chunk.length;
        }, tickMs);
        resolve(reader);
      });
    });
  }

  abort(): void {
    clearInterval(this.timer);
    this.req.destroy();
  }
}
