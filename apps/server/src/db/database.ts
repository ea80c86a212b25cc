import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import type { Database } from './schema.js';
import * as m0001 from './migrations/0001-initial.js';
import * as m0002 from './migrations/0002-commands.js';
import * as m0003 from './migrations/0003-findings.js';
import * as m0004 from './migrations/0004-suppressions.js';
import * as m0005 from './migrations/0005-notifications.js';
import * as m0006 from './migrations/0006-incidents.js';
import * as m0007 from './migrations/0007-usage.js';
import * as m0008 from './migrations/0008-invitations.js';
import * as m0009 from './migrations/0009-deployments.js';
import * as m0010 from './migrations/0010-registries.js';

export type DatabaseHandle = {
  db: Kysely<Database>;
  dialect: 'sqlite' | 'postgres';
  /** Runs pending migrations; safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;
};

/**
 * better-sqlite3 12 wraps its objects with node::ObjectWrap, which Node 24.19+ aborts on when the
 * garbage collector frees a statement outside a JavaScript context; version 13 (Node-API, with
 * prebuilt binaries) fixes that but crashes on Node 20. So each Node line gets the release that
 * works on it; both expose the same API. See docs/adr/0005-sqlite-driver-per-node-version.md.
 */
function loadSqliteDriver(): typeof BetterSqlite3 {
  const require = createRequire(import.meta.url);
  const major = Number(process.versions.node.split('.')[0]);
  return (major >= 22 ? require('better-sqlite3-napi') : require('better-sqlite3')) as typeof BetterSqlite3;
}

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-commands': m0002,
  '0003-findings': m0003,
  '0004-suppressions': m0004,
  '0005-notifications': m0005,
  '0006-incidents': m0006,
  '0007-usage': m0007,
  '0008-invitations': m0008,
  '0009-deployments': m0009,
  '0010-registries': m0010,
};

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(MIGRATIONS) };

/** pg returns int8 as strings by default; every bigint we store (epoch ms, bytes) fits a double. */
const pgTypes = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') => {
    if (oid === 20 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

/**
 * `onIdleClientError` hears about PostgreSQL connections that die while idle in the pool (a
 * server restart or failover): the pool drops them and opens new ones, so this only needs logging.
 * Without a listener such an error would crash the process.
 */
export function openDatabase(
  database: Config['database'],
  onIdleClientError: (err: Error) => void = () => undefined,
): DatabaseHandle {
  let db: Kysely<Database>;
  let dialect: DatabaseHandle['dialect'];
  if (database.kind === 'sqlite') {
    if (database.file !== ':memory:') fs.mkdirSync(path.dirname(database.file), { recursive: true, mode: 0o700 });
    const SqliteDatabase = loadSqliteDriver();
    const sqlite = new SqliteDatabase(database.file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    dialect = 'sqlite';
  } else {
    const pool = new pg.Pool({ connectionString: database.url, max: 10, types: pgTypes });
    pool.on('error', onIdleClientError);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    dialect = 'postgres';
  }
  return {
    db,
    dialect,
    async migrate() {
      const migrator = new Migrator({ db, provider });
      const { error, results } = await migrator.migrateToLatest();
      const failed = results?.find((r) => r.status === 'Error');
      if (error !== undefined || failed) {
        throw new Error(`database migration ${failed?.migrationName ?? ''} failed`, { cause: error });
      }
    },
    close: () => db.destroy(),
  };
}
