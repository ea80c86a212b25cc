import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, inject } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../db/database.js';

export type Dialect = 'sqlite' | 'postgres';

/**
 * Runs a suite once on SQLite and once on PostgreSQL. The PostgreSQL run is skipped, with the
 * reason in its name, only when no server was found (and NIRO_REQUIRE_PG is not set).
 */
export function describeEachDatabase(name: string, fn: (dialect: Dialect) => void): void {
  describe(`${name} [sqlite]`, () => fn('sqlite'));
  const pgInfo = inject('postgres');
  if (pgInfo.url === null) {
    describe.skip(`${name} [postgres] (skipped: ${pgInfo.reason})`, () => fn('postgres'));
  } else {
    describe(`${name} [postgres]`, () => fn('postgres'));
  }
}

/** A fresh, migrated database of the given dialect; `dispose` removes it. */
export async function createTestDatabase(
  dialect: Dialect,
): Promise<{ handle: DatabaseHandle; dispose(): Promise<void> }> {
  if (dialect === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-test-'));
    const handle = openDatabase({ kind: 'sqlite', file: path.join(dir, 'niro.db') });
    await handle.migrate();
    return {
      handle,
      async dispose() {
        await handle.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const pgDb = await createEmptyPostgresDatabase();
  const handle = openDatabase({ kind: 'postgres', url: pgDb.url });
  await handle.migrate();
  return {
    handle,
    async dispose() {
      await handle.close();
      await pgDb.dispose();
    },
  };
}

/** The PostgreSQL URL of a fresh empty database, for tests that start a whole server. */
export async function createEmptyPostgresDatabase(): Promise<{ url: string; dispose(): Promise<void> }> {
  const adminUrl = inject('postgres').url;
  if (adminUrl === null) throw new Error('PostgreSQL is not available');
  const name = `niro_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async dispose() {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
