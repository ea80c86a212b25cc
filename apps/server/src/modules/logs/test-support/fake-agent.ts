import WebSocket from 'ws';

type Frame = Record<string, unknown>;

/**
 * The agent end of the WebSocket command channel, speaking the protocol with the bare `ws`
 * package: a test drives it frame by frame (commands in, acks/results/log messages out).
 */
export class FakeAgent {
  readonly frames: Frame[] = [];
  closed = false;
  private waiter: (() => void) | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const v: unknown = JSON.parse(data.toString('utf8'));
      if (typeof v === 'object' && v !== null) this.frames.push({ ...v });
      this.wake();
    });
    ws.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Connects to `baseUrl` (http://…) with the agent key and says hello. */
  static async connect(baseUrl: string, agentKey: string): Promise<FakeAgent> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/agent/v1/connect`, {
      headers: { authorization: `Bearer ${agentKey}` },
    });
    const agent = new FakeAgent(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    agent.send({ type: 'hello', version: '0.1.0-test', protocol: 1 });
    return agent;
  }

  send(frame: Frame): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** The next frame matching `match`, removed from the queue. */
  async next(match: (f: Frame) => boolean): Promise<Frame> {
    for (;;) {
      const index = this.frames.findIndex(match);
      if (index >= 0) return this.frames.splice(index, 1)[0] as Frame;
      if (this.closed) throw new Error('the connection closed before the expected frame');
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Takes the next command of `kind`, acknowledges it, and returns its id and payload. */
  async command(kind: string): Promise<{ id: string; payload: Record<string, unknown> }> {
    const f = await this.next((x) => x.type === 'command' && x.kind === kind);
    const id = String(f.id);
    this.send({ type: 'ack', id });
    const payload = typeof f.payload === 'object' && f.payload !== null ? { ...f.payload } : {};
    return { id, payload };
  }

  result(id: string, body: Frame): void {
    this.send({ type: 'result', id, ...body });
  }

  log(streamId: string, seq: number, lines: string[]): void {
    this.send({ type: 'log', streamId, seq, lines });
  }

  logEnd(streamId: string, reason: string, message?: string): void {
    this.send({ type: 'log-end', streamId, reason, ...(message === undefined ? {} : { message }) });
  }

  /** The next `log-ack` of the stream. */
  ack(streamId: string): Promise<Frame> {
    return this.next((f) => f.type === 'log-ack' && f.streamId === streamId);
  }

  close(): void {
    this.ws.terminate();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
