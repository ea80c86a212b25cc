/**
 * Simulated agents for bench/commands.bench.ts: `ws` clients that say hello and answer every
 * command at once, plus the bare WebSocket echo baseline and small helpers.
 */
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';

const CONNECT_PATH = '/api/agent/v1/connect';
const RESULT_TIMEOUT_MS = 30_000;

export type Percentiles = { count: number; p50: number; p90: number; p99: number; max: number };

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const pct = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
  return { count: sorted.length, p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: sorted[sorted.length - 1] ?? 0 };
}

/** Runs `fn(0..count-1)` with at most `concurrency` at a time; the first failure rejects. */
export async function pool(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export type SimulatedFleet = {
  connectLatencies: number[];
  /** Resolves with the time (performance.now) the command's result-ack reached its agent. */
  resultAcked(id: string): Promise<number>;
  close(): Promise<void>;
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Opens one WebSocket per agent key, `concurrency` at a time, and says hello on each. */
export async function connectFleet(
  baseUrl: string,
  agentKeys: string[],
  concurrency: number,
  progress: (connected: number) => void,
): Promise<SimulatedFleet> {
  const url = `${baseUrl.replace(/^http/, 'ws')}${CONNECT_PATH}`;
  const acked = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  const sockets: WebSocket[] = [];
  const connectLatencies: number[] = [];
  let errors = 0;

  const onFrame = (ws: WebSocket, data: WebSocket.RawData): void => {
    const frame: unknown = JSON.parse(data.toString());
    if (!isRecord(frame) || typeof frame.id !== 'string') {
      if (isRecord(frame) && frame.type === 'error') errors++;
      return;
    }
    const id = frame.id;
    if (frame.type === 'command') {
      ws.send(JSON.stringify({ type: 'ack', id }));
      ws.send(JSON.stringify({ type: 'result', id, status: 'succeeded', result: { pong: true } }));
    } else if (frame.type === 'result-ack') {
      const at = performance.now();
      const waiter = waiters.get(id);
      if (waiter === undefined) acked.set(id, at);
      else {
        waiters.delete(id);
        waiter(at);
      }
    } else if (frame.type === 'error') {
      errors++;
    }
  };

  await pool(agentKeys.length, concurrency, async (i) => {
    const t0 = performance.now();
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${agentKeys[i] ?? ''}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    connectLatencies.push(performance.now() - t0);
    ws.on('message', (data) => onFrame(ws, data));
    ws.on('error', () => errors++);
    ws.send(JSON.stringify({ type: 'hello', version: '0.1.0-bench', protocol: 1 }));
    sockets.push(ws);
    if (sockets.length % 250 === 0) progress(sockets.length);
  });

  return {
    connectLatencies,
    resultAcked(id) {
      const at = acked.get(id);
      if (at !== undefined) {
        acked.delete(id);
        return Promise.resolve(at);
      }
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(id);
          reject(new Error(`no result-ack for command ${id} within ${RESULT_TIMEOUT_MS} ms (${errors} error frames)`));
        }, RESULT_TIMEOUT_MS);
        waiters.set(id, (t) => {
          clearTimeout(timer);
          resolve(t);
        });
      });
    },
    async close() {
      await Promise.all(
        sockets.map(
          (ws) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === WebSocket.CLOSED) return resolve();
              ws.once('close', () => resolve());
              ws.close(1000, 'bench done');
            }),
        ),
      );
    },
  };
}

/** Round trips of a bare `ws` echo server on loopback: `clients` clients, one frame in flight each. */
export async function echoBaseline(count: number, clients: number): Promise<Percentiles> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('the echo server has no port');
  const port = address.port;
  const sockets = await Promise.all(
    Array.from(
      { length: clients },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        }),
    ),
  );
  const latencies: number[] = [];
  const frame = JSON.stringify({ type: 'result', id: '01JBENCHECHO0000000000000', status: 'succeeded', result: {} });
  const perClient = Math.ceil(count / clients);
  await Promise.all(
    sockets.map(async (ws) => {
      for (let i = 0; i < perClient; i++) {
        const t0 = performance.now();
        await new Promise<void>((resolve) => {
          ws.once('message', () => resolve());
          ws.send(frame);
        });
        latencies.push(performance.now() - t0);
      }
    }),
  );
  for (const ws of sockets) ws.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  return percentiles(latencies);
}
