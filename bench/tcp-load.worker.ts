/**
 * Load generator for the TCP columns of the ingest benchmark, in its own thread so the client's
 * HTTP work does not share the server's event loop: one keep-alive connection per cluster over
 * loopback (undici Pool), one heartbeat in flight per connection.
 */
import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export type PhaseRequest = {
  url: string;
  path: string;
  /** One Authorization header per simulated cluster. */
  authorizations: string[];
  /** Next body index per cluster; returned advanced. */
  cursors: number[];
  seconds: number;
  bodiesId: number;
};
export type PhaseResult = { done: number; elapsedMs: number; latencies: number[]; cursors: number[]; error?: string };
export type WorkerMessage = { kind: 'bodies'; id: number; bodies: string[] } | ({ kind: 'phase' } & PhaseRequest);

const port = parentPort;
if (port === null) throw new Error('tcp-load.worker runs as a worker thread');
const bodiesById = new Map<number, string[]>();
const pools = new Map<string, Pool>();

port.on('message', (msg: WorkerMessage) => {
  if (msg.kind === 'bodies') {
    bodiesById.set(msg.id, msg.bodies);
    port.postMessage({ kind: 'ok' });
    return;
  }
  void runPhase(msg).then(
    (r) => port.postMessage(r),
    (err: unknown) =>
      port.postMessage({ done: 0, elapsedMs: 0, latencies: [], cursors: msg.cursors, error: String(err) }),
  );
});

async function runPhase(req: PhaseRequest): Promise<PhaseResult> {
  const bodies = bodiesById.get(req.bodiesId) ?? [];
  let pool = pools.get(req.url);
  if (pool === undefined) {
    pool = new Pool(req.url, { connections: req.authorizations.length, pipelining: 1, keepAliveTimeout: 60_000 });
    pools.set(req.url, pool);
  }
  const cursors = [...req.cursors];
  const latencies: number[] = [];
  const t0 = performance.now();
  const end = t0 + req.seconds * 1000;
  let done = 0;
  await Promise.all(
    req.authorizations.map(async (authorization, k) => {
      while (performance.now() < end) {
        const i = cursors[k] ?? 0;
        const started = performance.now();
        const res = await pool.request({
          method: 'POST',
          path: req.path,
          headers: { authorization, 'content-type': 'application/json' },
          body: bodies[i] ?? '',
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`heartbeat failed: ${res.statusCode} ${text.slice(0, 300)}`);
        if (text.includes('resendFull')) throw new Error(`unexpected resendFull: ${text}`);
        latencies.push(performance.now() - started);
        done++;
        cursors[k] = (i + 1) % bodies.length;
      }
    }),
  );
  return { done, elapsedMs: performance.now() - t0, latencies, cursors };
}
