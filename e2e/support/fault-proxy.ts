import net from 'node:net';

export type FaultMode = 'pass' | 'refuse' | 'hang' | 'garbage' | 'error';

export type FaultProxy = {
  url: string;
  /** Switches behaviour; open connections are cut so the next request sees the new mode. */
  setMode(mode: FaultMode): void;
  /** Connections accepted per mode since the start. */
  connections: Record<FaultMode, number>;
  close(): Promise<void>;
};

const GARBAGE =
  'HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 33\r\nconnection: close\r\n\r\n<html><h1>Bad Gateway</h1></html>';
const UNAVAILABLE_BODY = '{"error":{"code":"unavailable","message":"maintenance"}}';
const UNAVAILABLE = `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${UNAVAILABLE_BODY.length}\r\nconnection: close\r\n\r\n${UNAVAILABLE_BODY}`;

/**
 * A TCP proxy on loopback in front of a real server that can refuse connections, hold them without
 * answering, answer garbage or a 503, or pass traffic through: the network faults an agent meets.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let mode: FaultMode = 'pass';
  const sockets = new Set<net.Socket>();
  const connections: Record<FaultMode, number> = { pass: 0, refuse: 0, hang: 0, garbage: 0, error: 0 };
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const server = net.createServer((client) => {
    track(client);
    connections[mode] += 1;
    switch (mode) {
      case 'refuse':
        client.resetAndDestroy();
        return;
      case 'hang':
        return;
      case 'garbage':
      case 'error':
        client.once('data', () => client.end(mode === 'garbage' ? GARBAGE : UNAVAILABLE));
        return;
      case 'pass': {
        const out = net.connect(Number(upstream.port), upstream.hostname);
        track(out);
        client.pipe(out).pipe(client);
        out.once('close', () => client.destroy());
        client.once('close', () => out.destroy());
      }
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    connections,
    setMode(next) {
      mode = next;
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
