import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiClient, type Command } from '@niro/protocol';
import { ADVISORY_LOCK_NAMESPACE, JOB_LOCK_KEYS } from '../apps/server/src/jobs/singleton.js';
import { createEmptyPostgresDatabase } from '../apps/server/src/test-support/databases.js';
import { startServerProcess, type ServerLogLine, type ServerProcess } from './support/server-process.js';

const pgInfo = inject('postgres');
const describePg = pgInfo.url === null ? describe.skip : describe;
const suffix = pgInfo.url === null ? ` (skipped: ${pgInfo.reason})` : '';

const email = 'operator@example.test';
const password = 'scale-out passphrase 42';
/** The long-poll's own limit: an answer before it means a wake-up reached the poll. */
const WAIT_SECONDS = 30;

const runsJob =
  (job: string) =>
  (l: ServerLogLine): boolean =>
    l.msg === 'this replica now runs the job' && l.job === job;

/**
 * Two `niro server` processes on one PostgreSQL database: a command created on one reaches an
 * agent long-polling the other through LISTEN/NOTIFY, its result is visible from both, and the
 * periodic jobs run on one process at a time, the other taking over when the holder stops.
 */
describePg(`scale-out: two server processes on one PostgreSQL${suffix}`, () => {
  let database: { url: string; dispose(): Promise<void> };
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    database = await createEmptyPostgresDatabase();
    const env = { NIRO_DATABASE_URL: database.url, NIRO_ADMIN_EMAIL: email, NIRO_ADMIN_PASSWORD: password };
    // One after the other: the first migrates the empty database.
    a = await startServerProcess({ env });
    b = await startServerProcess({ env });
  }, 120_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await database?.dispose();
  });

  it('wakes an agent waiting on server B for a command created on server A; the result shows on A', async ({
    annotate,
  }) => {
    const { token } = await new ApiClient({ baseUrl: a.url }).createToken(email, password, 'scale-out');
    const apiA = new ApiClient({ baseUrl: a.url, token });
    const created = await apiA.createCluster({ name: 'edge-scale-01', environment: 'staging' });
    const { clusterId, agentKey } = await new ApiClient({ baseUrl: b.url }).enroll({
      token: created.enrollment.token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: 'scale-out-uid-1' },
    });
    const agentHeaders = { authorization: `Bearer ${agentKey}` };

    // The agent long-polls B; nothing is queued yet, so the poll waits (its own deadline is 30 s).
    const polled = fetch(`${b.url}/api/agent/v1/commands?waitSeconds=${WAIT_SECONDS}`, {
      headers: agentHeaders,
      signal: AbortSignal.timeout((WAIT_SECONDS - 5) * 1000),
    });
    // Failing before it is awaited must not leave an unhandled rejection.
    polled.catch(() => undefined);
    // Agent routes log only warnings, so B cannot say when the poll waits: on loopback its first
    // (empty) claim is done well within a second. From then on only a wake-up answers it early.
    await new Promise((r) => setTimeout(r, 1_000));

    const createdAt = performance.now();
    const cmd: Command = await apiA.createCommand(clusterId, { kind: 'ping' });
    // Answered well before the poll's own deadline (the fetch gives up 5 s before it): B was woken by A.
    const reply = await polled;
    const wakeUpMs = Math.round(performance.now() - createdAt);
    expect(reply.status).toBe(200);
    const body: unknown = await reply.json();
    expect(body).toMatchObject({ commands: [{ type: 'command', id: cmd.id, kind: 'ping' }] });
    // The figure, reported rather than asserted (no timing assertions in the suite).
    await annotate(`cross-process wake-up latency (create on A → poll answered on B): ${wakeUpMs} ms`);

    const result = await fetch(`${b.url}/api/agent/v1/commands/${cmd.id}/result`, {
      method: 'POST',
      headers: { ...agentHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'succeeded', result: { pong: true } }),
    });
    expect(result.status).toBe(200);
    expect(await apiA.getCommand(cmd.id)).toMatchObject({ state: 'succeeded', result: { pong: true } });
  });

  it('runs each periodic job on one process at a time, and the other takes over when the holder stops', async () => {
    // Both processes tick every few seconds; the first to tick takes each job's lock.
    const holderOf = async (job: string): Promise<[ServerProcess, ServerProcess]> => {
      await Promise.race([a.waitForLog(runsJob(job)), b.waitForLog(runsJob(job))]);
      return a.logs.some(runsJob(job)) ? [a, b] : [b, a];
    };
    const [holder, other] = await holderOf('cluster-status');
    await holderOf('command-expiry');
    // Several ticks of both later, each job's lock has one holder and only one process ever ran it.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(await lockHolders(database.url)).toEqual({
      [JOB_LOCK_KEYS.clusterStatus]: 1,
      [JOB_LOCK_KEYS.commandExpiry]: 1,
    });
    for (const job of ['cluster-status', 'command-expiry']) {
      expect([a, b].filter((p) => p.logs.some(runsJob(job)))).toHaveLength(1);
    }

    // The holder stops (SIGTERM frees its locks); the other process takes the job on its next tick.
    await holder.kill('SIGTERM');
    await other.waitForLog(runsJob('cluster-status'), 30_000);
    expect(await lockHolders(database.url)).toMatchObject({ [JOB_LOCK_KEYS.clusterStatus]: 1 });
    // The command expiry job has its own lock, and it too ends up with the remaining process alone.
    await other.waitForLog(runsJob('command-expiry'), 30_000);
    expect(await lockHolders(database.url)).toEqual({
      [JOB_LOCK_KEYS.clusterStatus]: 1,
      [JOB_LOCK_KEYS.commandExpiry]: 1,
    });
  }, 90_000);
});

/** Sessions holding each Niro job lock in this database right now, by lock key (the server is shared). */
async function lockHolders(url: string): Promise<Record<number, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ key: number; holders: number }>(
      `select objid::int as key, count(*)::int as holders from pg_locks
        where locktype = 'advisory' and granted and classid = $1::int::oid and objsubid = 2
          and database = (select oid from pg_database where datname = current_database())
        group by objid`,
      [ADVISORY_LOCK_NAMESPACE],
    );
    return Object.fromEntries(rows.map((r) => [r.key, r.holders]));
  } finally {
    await client.end();
  }
}
