import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The throwaway PostgreSQL server of scripts/postgres-test-server.sh, where benchmarks make their databases. */
export const BENCH_POSTGRES_ADMIN_URL = 'postgres://postgres@127.0.0.1:54329/postgres';

/** A fresh PostgreSQL database for one benchmark run, or null when the server does not answer. */
export async function benchPostgresDatabase(): Promise<{ url: string; dispose(): Promise<void> } | null> {
  const admin = new pg.Client({ connectionString: BENCH_POSTGRES_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    return null;
  }
  const name = `niro_bench_${randomBytes(6).toString('hex')}`;
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(BENCH_POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async dispose() {
      const a = new pg.Client({ connectionString: BENCH_POSTGRES_ADMIN_URL });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

/**
 * Runs a benchmark on SQLite, then on a throwaway PostgreSQL database from benchPostgresDatabase(),
 * each unless NIRO_BENCH_DB names only the other (`sqlite` or `postgres`). `skipped` is called when the
 * PostgreSQL server does not answer, so that each benchmark words that in its own log.
 */
export async function runOnSqliteThenPostgres<T>(
  run: (label: string, databaseUrl: string | null) => Promise<T>,
  skipped: () => void,
): Promise<T[]> {
  const results: T[] = [];
  const only = process.env.NIRO_BENCH_DB;
  if (only !== 'postgres') results.push(await run('SQLite', null));
  if (only !== 'sqlite') {
    const pgDb = await benchPostgresDatabase();
    if (pgDb === null) skipped();
    else {
      try {
        results.push(await run('PostgreSQL', pgDb.url));
      } finally {
        await pgDb.dispose();
      }
    }
  }
  return results;
}
