import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../db/database.js';
import { createLogger } from '../../logger.js';
import { createEmptyPostgresDatabase } from '../../test-support/databases.js';
import { InProcessCommandNotifier } from '../commands/command-notifier.js';
import { PgCommandNotifier } from '../commands/pg-command-notifier.js';
import { KeyRevocations } from './key-revocations.js';

const pgInfo = inject('postgres');
const describePg = pgInfo.url === null ? describe.skip : describe;
const suffix = pgInfo.url === null ? ` (skipped: ${pgInfo.reason})` : '';

describe('key revocations in one process', () => {
  it('reach the revoked cluster only, and do not wake its command deliveries', () => {
    const notifier = new InProcessCommandNotifier();
    const revocations = new KeyRevocations(notifier);
    const heard: string[] = [];
    revocations.subscribe('c1', () => heard.push('c1'));
    revocations.subscribe('c2', () => heard.push('c2'));
    notifier.subscribe('c1', () => heard.push('c1 commands'));
    revocations.revoked('c1');
    expect(heard).toEqual(['c1']);
  });
});

/** Two replicas on one database: a revocation on one reaches the connections held by the other. */
describePg(`key revocations across PostgreSQL replicas${suffix}`, () => {
  let database: { url: string; dispose(): Promise<void> };
  let handle: DatabaseHandle;
  const notifiers: PgCommandNotifier[] = [];
  const logger = createLogger('warn', new Writable({ write: (_chunk, _enc, cb) => cb() }));

  beforeEach(async () => {
    database = await createEmptyPostgresDatabase();
    handle = openDatabase({ kind: 'postgres', url: database.url });
  });
  afterEach(async () => {
    for (const n of notifiers.splice(0)) await n.close();
    await handle.close();
    await database.dispose();
  });

  const replica = async (): Promise<KeyRevocations> => {
    const n = new PgCommandNotifier({ url: database.url, db: handle.db, logger });
    notifiers.push(n);
    await n.start();
    return new KeyRevocations(n);
  };

  it('reach a subscriber on another replica', async () => {
    const [sender, holder] = [await replica(), await replica()];
    const heard = new Promise<void>((resolve) => holder.subscribe('cluster-1', resolve));
    sender.revoked('cluster-1');
    await heard;
  });
});
