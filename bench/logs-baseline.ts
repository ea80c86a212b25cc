/**
 * The floor for bench/logs.bench.ts: the same `log` frames through a bare `ws` connection into a
 * bare chunked HTTP response, with the same acknowledged window and nothing else: no parsing, no
 * validation, no message bus. Each frame is written as an SSE `lines` event as it came; a frame is
 * acknowledged when the response took it, or on 'drain' (as the Niro relay does).
 */
import http from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { LogPump, type LogChunk } from './logs-agent.js';
import { FastReader } from './logs-readers.js';

const PREFIX = Buffer.from('event: lines\ndata: ');
const SUFFIX = Buffer.from('\n\n');

export type BareRelay = { url: string; close(): Promise<void> };

/** One stream: `GET /stream` is the reader, a WebSocket on `/agent` the sender. */
export async function startBareRelay(): Promise<BareRelay> {
  let reader: http.ServerResponse | null = null;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    reader = res;
  });
  const wss = new WebSocketServer({ server, path: '/agent', perMessageDeflate: false, maxPayload: 1024 * 1024 });
  wss.on('connection', (ws) => {
    let seq = -1;
    let waitingDrain = false;
    ws.on('message', (data: Buffer) => {
      const res = reader;
      if (res === null) return;
      const n = ++seq;
      const accepted = res.write(Buffer.concat([PREFIX, data, SUFFIX]));
      const ack = (): void => ws.send(`{"type":"log-ack","streamId":"bare","seq":${n}}`);
      if (accepted && !waitingDrain) return ack();
      if (!waitingDrain) {
        waitingDrain = true;
        res.once('drain', () => {
          waitingDrain = false;
          ws.send(`{"type":"log-ack","streamId":"bare","seq":${seq}}`);
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the bare relay has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      const res: http.ServerResponse | null = reader;
      res?.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type BareStream = { reader: FastReader; pump: LogPump; close(): Promise<void> };

/** A bare relay with its reader and sender connected; the pump starts idle (`limit` messages, then eof). */
export async function openBareStream(chunk: LogChunk, limit?: number): Promise<BareStream> {
  const relay = await startBareRelay();
  const reader = await FastReader.open(`${relay.url}/stream`);
  const ws = new WebSocket(`${relay.url.replace(/^http/, 'ws')}/agent`, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const pump = new LogPump('bare', chunk, (frame) => ws.send(frame), { kind: 'idle' }, limit);
  ws.on('message', (data: Buffer) => {
    const ack: unknown = JSON.parse(data.toString('utf8'));
    if (typeof ack === 'object' && ack !== null && 'seq' in ack && typeof ack.seq === 'number') {
      pump.onAck(ack.seq, false);
    }
  });
  return {
    reader,
    pump,
    async close() {
      pump.close();
      ws.terminate();
      reader.abort();
      await relay.close();
    },
  };
}
