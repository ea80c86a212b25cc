import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../db/database.js';
import { createLogger } from '../../logger.js';
import { createEmptyPostgresDatabase } from '../../test-support/databases.js';
import {
  COMMAND_LISTENER_APPLICATION_NAME,
  NOTIFY_PAYLOAD_BYTES,
  PgCommandNotifier,
  fragmentMessage,
} from './pg-command-notifier.js';

const pgInfo = inject('postgres');
const describePg = pgInfo.url === null ? describe.skip : describe;
const suffix = pgInfo.url === null ? ` (skipped: ${pgInfo.reason})` : '';

/** Two replicas' notifiers on one database: wake-ups cross between them through LISTEN/NOTIFY. */
describePg(`PostgreSQL command notifier${suffix}`, () => {
  let database: { url: string; dispose(): Promise<void> };
  let handle: DatabaseHandle;
  const logs: string[] = [];
  const logger = createLogger(
    'debug',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString('utf8'));
        cb();
      },
    }),
  );
  const notifiers: PgCommandNotifier[] = [];
  const replica = async (): Promise<PgCommandNotifier> => {
    const n = new PgCommandNotifier(
      { url: database.url, db: handle.db, logger },
      { reconnectMinMs: 50, reconnectMaxMs: 200 },
    );
    notifiers.push(n);
    await n.start();
    return n;
  };
  const listenSessions = async (): Promise<number[]> => {
    const res = await sql<{ pid: number }>`
      select pid from pg_stat_activity
      where datname = current_database() and application_name = ${COMMAND_LISTENER_APPLICATION_NAME}`.execute(
      handle.db,
    );
    return res.rows.map((r) => r.pid);
  };

  beforeEach(async () => {
    database = await createEmptyPostgresDatabase();
    handle = openDatabase({ kind: 'postgres', url: database.url });
  });
  afterEach(async () => {
    for (const n of notifiers.splice(0)) await n.close();
    await handle.close();
    await database.dispose();
  });

  it("wakes the other replica's subscribers of that cluster only, until they unsubscribe", async () => {
    const a = await replica();
    const b = await replica();
    const woken: string[] = [];
    const stopX = b.subscribe('cluster-x', () => woken.push('x'));
    b.subscribe('cluster-y', () => woken.push('y'));
    a.subscribe('cluster-x', () => woken.push('x on a'));

    a.notify('cluster-x');
    await expect.poll(() => woken.sort()).toEqual(['x', 'x on a']);

    stopX();
    expect(b.subscribers('cluster-x')).toBe(0);
    a.notify('cluster-x');
    a.notify('cluster-y');
    await expect.poll(() => woken.includes('y')).toBe(true);
    expect(woken.filter((w) => w === 'x')).toHaveLength(1);
  });

  it('reconnects a dropped LISTEN connection, wakes every subscriber, and hears notifications again', async () => {
    const b = await replica();
    const [bSession] = await listenSessions();
    const a = await replica();
    let wakes = 0;
    b.subscribe('cluster-x', () => wakes++);

    // The database ends B's LISTEN session (a failover or an administrator does the same).
    await sql`select pg_terminate_backend(${bSession})`.execute(handle.db);
    // Notifications sent meanwhile are lost, so B wakes its waiters once it listens again.
    await expect.poll(() => wakes).toBe(1);
    expect(b.listening).toBe(true);
    expect(await listenSessions()).not.toContain(bSession);
    expect(logs.some((l) => l.includes('listening again'))).toBe(true);

    const seen = wakes;
    a.notify('cluster-x');
    await expect.poll(() => wakes).toBeGreaterThan(seen);
  });

  it('carries a 60 KB message to the other replica in fragments, whole, in order, and once to its own', async ({
    annotate,
  }) => {
    const a = await replica();
    const b = await replica();
    // Multi-byte characters, so fragment borders fall inside UTF-8 sequences unless cut with care.
    const big = Array.from({ length: (60 * 1024) / 16 }, (_, i) => `line ${String(i).padStart(5, '0')} ö€😀`).join(
      '\n',
    );
    expect(Buffer.byteLength(big)).toBeGreaterThan(60 * 1024);
    const fragments = fragmentMessage('x.1', 'log-reader:s1', big);
    expect(fragments.length).toBeGreaterThan(7);
    expect(Math.max(...fragments.map((f) => Buffer.byteLength(f)))).toBeLessThanOrEqual(NOTIFY_PAYLOAD_BYTES);

    const onB: string[] = [];
    const onA: string[] = [];
    b.messages.subscribe('log-reader:s1', (m) => onB.push(m));
    b.messages.subscribe('log-reader:other', (m) => onB.push(`other: ${m}`));
    a.messages.subscribe('log-reader:s1', (m) => onA.push(m));
    a.messages.publish('log-reader:s1', 'before');
    a.messages.publish('log-reader:s1', big);
    a.messages.publish('log-reader:s1', 'after');
    await expect.poll(() => onB.length).toBe(3);
    expect(onB[0]).toBe('before');
    expect(onB[1] === big, 'the 60 KB message arrived whole').toBe(true);
    expect(onB[2]).toBe('after');
    expect(onA).toEqual(['before', big, 'after']);
    expect(b.incompleteMessages).toBe(0);
    await annotate(`a ${Buffer.byteLength(big)}-byte message crossed as ${fragments.length} NOTIFY fragments`);
  });

  it('closes its LISTEN connection on close', async () => {
    const a = await replica();
    expect(await listenSessions()).toHaveLength(1);
    await a.close();
    await expect.poll(listenSessions).toEqual([]);
    expect(a.listening).toBe(false);
  });
});
