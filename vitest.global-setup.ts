import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: { url: string | null; reason: string };
  }
}

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:54329/postgres';

/**
 * Finds the PostgreSQL server for repository tests once per run. Without one, the PostgreSQL
 * variants are skipped with the reason, unless NIRO_REQUIRE_PG=1 (CI), which makes it a failure.
 */
export default async function setup(project: TestProject): Promise<void> {
  const url = process.env.NIRO_TEST_POSTGRES_URL ?? DEFAULT_URL;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    project.provide('postgres', { url, reason: '' });
  } catch (err) {
    const reason = `no PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')} (${(err as Error).message}); start one with scripts/postgres-test-server.sh start`;
    if (process.env.NIRO_REQUIRE_PG === '1') throw new Error(`NIRO_REQUIRE_PG=1 but ${reason}`);
    console.warn(`[niro tests] PostgreSQL tests skipped: ${reason}`);
    project.provide('postgres', { url: null, reason });
  } finally {
    await client.end().catch(() => undefined);
  }
}
