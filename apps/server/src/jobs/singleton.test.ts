import { Writable } from 'node:stream';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../logger.js';
import { createEmptyPostgresDatabase } from '../test-support/databases.js';
import {
  AdvisoryJobLock,
  JOB_LOCK_APPLICATION_NAME,
  JOB_LOCK_KEYS,
  SingletonJob,
  jobLockFor,
  type JobLock,
} from './singleton.js';

const logger = createLogger(
  'debug',
  new Writable({
    write(_chunk: Buffer, _enc, cb) {
      cb();
    },
  }),
);

/** A job that counts its ticks. */
function countingJob(lock: JobLock | null): { counter: { ticks: number }; singleton: SingletonJob } {
  const counter = { ticks: 0 };
  const singleton = new SingletonJob({
    name: 'test-job',
    intervalMs: 60_000,
    tick: () => {
      counter.ticks++;
      return Promise.resolve();
    },
    lock,
    logger,
  });
  return { counter, singleton };
}

describe('singleton job [sqlite]', () => {
  it('runs every tick without a lock', async () => {
    const lock = jobLockFor({ kind: 'sqlite', file: ':memory:' }, JOB_LOCK_KEYS.clusterStatus, logger);
    expect(lock).toBeNull();
    const { counter, singleton } = countingJob(lock);
    expect(await singleton.runOnce()).toBe(true);
    expect(await singleton.runOnce()).toBe(true);
    expect(counter.ticks).toBe(2);
    await singleton.stop();
  });
});

const pgInfo = inject('postgres');
const describePg = pgInfo.url === null ? describe.skip : describe;
const suffix = pgInfo.url === null ? ` (skipped: ${pgInfo.reason})` : '';

describePg(`singleton job [postgres]${suffix}`, () => {
  let database: { url: string; dispose(): Promise<void> };
  const jobs: SingletonJob[] = [];
  beforeEach(async () => {
    database = await createEmptyPostgresDatabase();
  });
  afterEach(async () => {
    for (const j of jobs.splice(0)) await j.stop();
    await database.dispose();
  });

  const replica = (key: number = JOB_LOCK_KEYS.clusterStatus) => {
    const made = countingJob(new AdvisoryJobLock(database.url, key, logger));
    jobs.push(made.singleton);
    return made;
  };

  it('runs the tick on one replica at a time; another takes over when the holder stops', async () => {
    const a = replica();
    const b = replica();
    expect(await a.singleton.runOnce()).toBe(true);
    expect(await b.singleton.runOnce()).toBe(false);
    expect(await a.singleton.runOnce()).toBe(true);
    expect(await b.singleton.runOnce()).toBe(false);
    expect([a.counter.ticks, b.counter.ticks]).toEqual([2, 0]);

    await a.singleton.stop();
    expect(await b.singleton.runOnce()).toBe(true);
    expect(b.counter.ticks).toBe(1);
  });

  it('keeps one lock per job: different jobs may run on different replicas', async () => {
    const status = replica(JOB_LOCK_KEYS.clusterStatus);
    const expiry = replica(JOB_LOCK_KEYS.commandExpiry);
    expect(await status.singleton.runOnce()).toBe(true);
    expect(await expiry.singleton.runOnce()).toBe(true);
  });

  it('hands the job over when the holder loses its database session', async () => {
    const a = replica();
    const b = replica();
    expect(await a.singleton.runOnce()).toBe(true);
    expect(await b.singleton.runOnce()).toBe(false);

    // The holder's session dies (a crashed replica, a cut connection): PostgreSQL frees its lock.
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query(
        `select pg_terminate_backend(l.pid) from pg_locks l join pg_stat_activity s on s.pid = l.pid
         where l.locktype = 'advisory' and l.granted and s.application_name = $1 and s.datname = current_database()`,
        [JOB_LOCK_APPLICATION_NAME],
      );
    } finally {
      await admin.end();
    }
    await expect.poll(() => b.singleton.runOnce()).toBe(true);
    expect(await a.singleton.runOnce()).toBe(false);
    expect(a.counter.ticks).toBe(1);
  });
});
