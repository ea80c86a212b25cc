import http from 'node:http';

export type SseEvent = { event: string; data: string };

/**
 * A server-sent events reader over node:http, so a test can pause its socket (a slow reader) or
 * drop it (a closed browser), and see the comments too.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  comments = 0;
  ended = false;
  private buffer = '';
  private waiter: (() => void) | null = null;

  private constructor(
    private readonly req: http.ClientRequest,
    readonly res: http.IncomingMessage,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let i = this.buffer.indexOf('\n\n'); i >= 0; i = this.buffer.indexOf('\n\n')) {
        this.parse(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 2);
      }
      this.wake();
    });
    res.on('end', () => {
      this.ended = true;
      this.wake();
    });
    res.on('error', () => undefined);
    req.on('error', () => undefined);
  }

  static open(url: string, token: string): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
      req.once('response', (res) => resolve(new SseClient(req, res)));
      req.once('error', reject);
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  /** The body of a reply that is not an event stream (an error). */
  async text(): Promise<string> {
    while (!this.ended) await this.wait();
    return this.buffer;
  }

  /** The next event (of this name, if given), removed from the queue; throws when the stream ends first. */
  async next(name?: string): Promise<SseEvent> {
    for (;;) {
      const index = this.events.findIndex((e) => name === undefined || e.event === name);
      if (index >= 0) return this.events.splice(index, 1)[0] as SseEvent;
      if (this.ended) throw new Error(`the stream ended before ${name ?? 'an'} event`);
      await this.wait();
    }
  }

  /** Every event up to the end of the stream. */
  async rest(): Promise<SseEvent[]> {
    while (!this.ended) await this.wait();
    return this.events.splice(0);
  }

  pause(): void {
    this.res.pause();
  }

  resume(): void {
    this.res.resume();
  }

  /** Drops the connection, as a closed browser tab does. */
  abort(): void {
    this.req.destroy();
  }

  private parse(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments++;
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) this.events.push({ event, data: data.join('\n') });
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => (this.waiter = resolve));
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
