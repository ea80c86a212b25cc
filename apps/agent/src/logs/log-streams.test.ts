import type { CommandResultBody, LogAckMessage, LogEndMessage, LogMessage } from '@niro/protocol';
import { LOG_LIMITS } from '@niro/protocol/commands';
import type { KubeCluster } from '@niro/testkit/kube';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { executeCommand, type CommandContext } from '../commands/executor.js';
import { captureLogs, command, kubeApi, testContext, type CountingApi } from '../commands/test-support/commands.js';
import type { LogOutbound } from './log-stream.js';
import { LogStreams, type LogSink, type LogStreamsOptions } from './log-streams.js';

const NS = 'log-streams';

/**
 * Stands in for the connection to Niro at the protocol's edge: records every message and, like a
 * slow reader, acknowledges each `log` message `ackDelayMs` after the previous acknowledgement.
 */
class SlowReaderSink implements LogSink {
  readonly logs: LogMessage[] = [];
  readonly ends: LogEndMessage[] = [];
  /** Most `log` messages sent and not yet acknowledged at any moment. */
  maxUnacked = 0;
  stopNext = false;
  paused = false;
  #acked = new Map<string, number>();
  #queue: LogMessage[] = [];
  #timer: NodeJS.Timeout | undefined;
  #endWaiters: (() => void)[] = [];

  constructor(
    private readonly streams: () => LogStreams,
    private readonly ackDelayMs: number,
  ) {}

  async send(message: LogOutbound): Promise<LogAckMessage | null> {
    if (message.type === 'log-end') {
      this.ends.push(message);
      for (const w of this.#endWaiters.splice(0)) w();
      return null;
    }
    this.logs.push(message);
    const acked = this.#acked.get(message.streamId) ?? -1;
    this.maxUnacked = Math.max(this.maxUnacked, message.seq - acked);
    this.#queue.push(message);
    this.#schedule();
    return null;
  }

  linesOf(streamId: string): string[] {
    return this.logs.filter((m) => m.streamId === streamId).flatMap((m) => m.lines);
  }

  async endOf(streamId: string, timeoutMs = 20_000): Promise<LogEndMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.ends.find((e) => e.streamId === streamId);
      if (end !== undefined) return end;
      if (Date.now() > deadline) throw new Error(`no log-end for ${streamId}`);
      await new Promise<void>((resolve) => {
        this.#endWaiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  resume(): void {
    this.paused = false;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.paused || this.#queue.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const next = this.#queue.shift();
      if (next !== undefined) {
        this.#acked.set(next.streamId, next.seq);
        const ack: LogAckMessage = { type: 'log-ack', streamId: next.streamId, seq: next.seq };
        if (this.stopNext) ack.stop = true;
        this.streams().ack(ack);
      }
      this.#schedule();
    }, this.ackDelayMs);
  }
}

async function until<T>(what: string, read: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describeWithKube('log streams against the local API server', (cluster: () => KubeCluster) => {
  let api: CountingApi;
  const captured = captureLogs();

  function setup(options: Partial<LogStreamsOptions> = {}, ackDelayMs = 5) {
    const streams: LogStreams = new LogStreams({ api, logger: captured.logger, ...options });
    const sink = new SlowReaderSink(() => streams, ackDelayMs);
    streams.attach(sink);
    const context: CommandContext = testContext(api, { handlers: streams.handlers, logger: captured.logger });
    const run = (kind: 'logs' | 'logs-stop', payload: Record<string, unknown>): Promise<CommandResultBody> =>
      executeCommand(command(kind, payload), context);
    return { streams, sink, run };
  }

  beforeAll(async () => {
    api = kubeApi(cluster().kubeconfig);
    await cluster().apply(`
apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: ${NS} }
spec:
  containers: [{ name: web, image: nginx:1.27 }]
`);
    for (let i = 0; i < 200; i++) {
      const phase = await cluster().kubectl(['-n', NS, 'get', 'pod', 'web', '-o', 'jsonpath={.status.phase}']);
      if (phase.stdout === 'Running') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
  afterAll(() => api?.close());

  it("streams a pod's log as whole lines, in order, never more than the window unacknowledged, then eof", async ({
    annotate,
  }) => {
    const lines = Array.from({ length: 5000 }, (_, i) => `request ${i} GET /api/orders/${i} 200 ${'·'.repeat(i % 40)}`);
    await cluster().appendPodLog(lines);
    // Small batches, so the stream has many messages to pace.
    const { sink, streams, run } = setup({ settings: { chunkLines: 100 } });
    const started = Date.now();
    const result = await run('logs', { streamId: 's-all', namespace: NS, pod: 'web', tailLines: 5000 });
    expect(result).toEqual({ status: 'succeeded', result: { streamId: 's-all' } });

    const end = await sink.endOf('s-all');
    expect(end).toEqual({ type: 'log-end', streamId: 's-all', reason: 'eof' });
    expect(sink.linesOf('s-all')).toEqual(lines);
    const seqs = sink.logs.map((m) => m.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(sink.maxUnacked).toBeLessThanOrEqual(LOG_LIMITS.window);
    expect(streams.active).toBe(0);
    await annotate(
      `5000 lines in ${sink.logs.length} messages, most unacknowledged ${sink.maxUnacked}, ${Date.now() - started} ms`,
    );
    // The agent's own log names the stream, never a line of it.
    expect(captured.lines.some((l) => l.includes('log stream ended') && l.includes('"reason":"eof"'))).toBe(true);
    expect(captured.lines.some((l) => l.includes('GET /api/orders/'))).toBe(false);
  });

  it('waits for a slow reader: with no acknowledgement the read pauses; acknowledgements resume it', async () => {
    const { sink, run } = setup({ settings: { chunkLines: 10 } });
    sink.paused = true;
    const result = await run('logs', { streamId: 's-slow', namespace: NS, pod: 'web', tailLines: 1000 });
    expect(result.status).toBe('succeeded');
    await until('a full window', () => (sink.logs.length >= LOG_LIMITS.window ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sink.logs.length).toBe(LOG_LIMITS.window);
    sink.resume();
    const end = await sink.endOf('s-slow');
    expect(end.reason).toBe('eof');
    expect(sink.linesOf('s-slow')).toHaveLength(1000);
    expect(sink.maxUnacked).toBeLessThanOrEqual(LOG_LIMITS.window);
  });

  it('ends the stream when a full window stays unacknowledged for the ack timeout', async () => {
    const { sink, streams, run } = setup({ settings: { chunkLines: 10, ackTimeoutMs: 300 } });
    sink.paused = true;
    await run('logs', { streamId: 's-stuck', namespace: NS, pod: 'web', tailLines: 1000, follow: true });
    expect(await sink.endOf('s-stuck')).toEqual({
      type: 'log-end',
      streamId: 's-stuck',
      reason: 'error',
      message: 'no acknowledgement from Niro for 0.3 s',
    });
    expect(sink.logs.length).toBe(LOG_LIMITS.window);
    expect(streams.active).toBe(0);
  });

  it('follows new lines as they are written, and stops on logs-stop or an acknowledgement that says stop', async () => {
    const { sink, streams, run } = setup();
    // tailLines 0 on a quiet log: the API answers only with the first new line; the command does not wait for it.
    const result = await run('logs', { streamId: 's-follow', namespace: NS, pod: 'web', tailLines: 0, follow: true });
    expect(result).toEqual({ status: 'succeeded', result: { streamId: 's-follow' } });
    await cluster().appendPodLog(['follow one']);
    await until('the first followed line', () => (sink.linesOf('s-follow').length >= 1 ? true : undefined));
    await cluster().appendPodLog(['follow two', 'follow three']);
    await until('more followed lines', () => (sink.linesOf('s-follow').length >= 3 ? true : undefined));
    expect(sink.linesOf('s-follow')).toEqual(['follow one', 'follow two', 'follow three']);

    expect(await run('logs-stop', { streamId: 's-follow' })).toEqual({
      status: 'succeeded',
      result: { streamId: 's-follow', stopped: true },
    });
    expect(await sink.endOf('s-follow')).toEqual({ type: 'log-end', streamId: 's-follow', reason: 'stopped' });
    await cluster().appendPodLog(['after the stop']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sink.linesOf('s-follow')).toHaveLength(3);

    await run('logs', { streamId: 's-ack-stop', namespace: NS, pod: 'web', tailLines: 2, follow: true });
    sink.stopNext = true;
    expect(await sink.endOf('s-ack-stop')).toEqual({ type: 'log-end', streamId: 's-ack-stop', reason: 'stopped' });
    expect(streams.active).toBe(0);
  });

  it("refuses a pod that does not exist with the API's message, and ends its stream with that error", async () => {
    const { sink, run } = setup();
    const result = await run('logs', { streamId: 's-missing', namespace: NS, pod: 'nope' });
    expect(result).toEqual({
      status: 'failed',
      error: { code: 'not_found', message: 'pods "nope" not found' },
    });
    expect(await sink.endOf('s-missing')).toEqual({
      type: 'log-end',
      streamId: 's-missing',
      reason: 'error',
      message: 'pods "nope" not found',
    });
    const bad = await run('logs', { streamId: 's-bad', namespace: 'Not A Namespace', pod: 'web' });
    expect(bad.error?.code).toBe('invalid_payload');
  });

  it('caps the streams at once, and ends them when the connection is lost, sending log-end after reconnecting', async () => {
    const { sink, streams, run } = setup({ maxStreams: 2 });
    for (const id of ['s-1', 's-2']) {
      expect((await run('logs', { streamId: id, namespace: NS, pod: 'web', tailLines: 1, follow: true })).status).toBe(
        'succeeded',
      );
    }
    const refused = await run('logs', { streamId: 's-3', namespace: NS, pod: 'web', follow: true });
    expect(refused.error?.code).toBe('too_many_streams');

    streams.detach();
    expect(streams.active).toBe(0);
    expect(sink.ends.filter((e) => e.streamId === 's-1' || e.streamId === 's-2')).toEqual([]);
    streams.attach(sink);
    for (const id of ['s-1', 's-2']) {
      expect(await sink.endOf(id)).toEqual({
        type: 'log-end',
        streamId: id,
        reason: 'error',
        message: 'connection to Niro lost',
      });
    }
  });
});
