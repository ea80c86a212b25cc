import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the receiver saw it, and what became of its answer. */
export type NotificationRequest = {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: unknown;
  /** When the body had arrived (ms since the epoch). */
  receivedAt: number;
  /**
   * `answered`: the status went out on an open connection; `held`: not answered yet; `lost`:
   * the sender hung up (or died) before the answer, so it never saw one.
   */
  outcome: 'answered' | 'held' | 'lost';
  status: number | null;
};

export type NotificationReceiver = {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  requests: NotificationRequest[];
  /** Requests whose 2xx answer reached an open connection. */
  answered2xx(): NotificationRequest[];
  /** From now on every request is answered at once (204), and the ones held so far are answered too. */
  release(): void;
  close(): Promise<void>;
};

/**
 * A real HTTP server on loopback for webhook, Slack and Discord channels. It answers 204 at once,
 * unless `hold(request, index)` says to keep the answer back until release(): a receiver that is
 * slow while the sender crashes. It records whether each answer could still be delivered.
 */
export async function startNotificationReceiver(
  options: { hold?: (request: NotificationRequest, index: number) => boolean } = {},
): Promise<NotificationReceiver> {
  const requests: NotificationRequest[] = [];
  const held: Array<() => void> = [];
  let holding = options.hold;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      const entry: NotificationRequest = {
        path: req.url ?? '',
        headers: req.headers,
        body,
        json,
        receivedAt: Date.now(),
        outcome: 'held',
        status: null,
      };
      requests.push(entry);
      const answer = (): void => {
        if (entry.outcome !== 'held') return;
        if (res.destroyed || req.socket.destroyed) {
          entry.outcome = 'lost';
          return;
        }
        entry.outcome = 'answered';
        entry.status = 204;
        res.writeHead(204);
        res.end();
      };
      // The sender gave up or died while the answer was held back.
      res.on('close', () => {
        if (entry.outcome === 'held') entry.outcome = 'lost';
      });
      if (holding?.(entry, requests.length - 1) === true) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    answered2xx: () =>
      requests.filter((r) => r.outcome === 'answered' && r.status !== null && r.status >= 200 && r.status < 300),
    release() {
      holding = undefined;
      for (const answer of held.splice(0)) answer();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
