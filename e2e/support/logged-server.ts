import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, startServer, type RunningServer } from '@niro/server';
import type { Clock } from '../../apps/server/src/clock.js';
import { createEmptyPostgresDatabase, type Dialect } from '../../apps/server/src/test-support/databases.js';

export type LoggedServer = {
  server: RunningServer;
  /** Every log line the server wrote, at debug level. */
  logs: string[];
  dataDir: string;
  /** Closes the server (idempotent), then removes its database and data dir. */
  dispose(): Promise<void>;
};

/**
 * A real listening server (port 0) on a fresh SQLite data dir or PostgreSQL database, logging at
 * debug level into memory, for end-to-end tests that also inspect what the server wrote.
 */
export async function startLoggedServer(
  dialect: Dialect,
  clock: Clock,
  env: Record<string, string> = {},
): Promise<LoggedServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-e2e-'));
  const config: Record<string, string> = { NIRO_PORT: '0', NIRO_DATA_DIR: dataDir, NIRO_LOG_LEVEL: 'debug', ...env };
  let disposeDb: () => Promise<void> = async () => undefined;
  if (dialect === 'postgres') {
    const db = await createEmptyPostgresDatabase();
    config.NIRO_DATABASE_URL = db.url;
    disposeDb = db.dispose;
  }
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const server = await startServer({ config, clock, logger: createLogger('debug', sink) });
  return {
    server,
    logs,
    dataDir,
    async dispose() {
      await server.close();
      await disposeDb();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
