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
