import { buildHeartbeat } from '@niro/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test-support/app.js';
import { enrollTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { HeartbeatRepository } from './heartbeat.repository.js';
import { HeartbeatService, usageTotals } from './heartbeat.service.js';

describeEachDatabase('heartbeat ingest fast paths', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('commits a lone heartbeat once nothing else is being applied, without waiting out the delay', async () => {
    const c = await enrollTestCluster(t);
    const service = new HeartbeatService(
      new HeartbeatRepository(t.services.database.db),
      t.services.clock,
      t.services.config,
      t.services.logger,
      t.services.metrics,
      { writer: { maxBatchItems: 256, maxBatchBytes: 1024 * 1024, maxDelayMs: 3_600_000, commitWhenIdle: true } },
    );
    const agent = await service.authenticate(`Bearer ${c.agentKey}`);
    const inventory = { mode: 'full' as const, hash: 'h1', nodes: [], pods: [], workloads: [] };
    const [a, b] = await Promise.all([
      service.ingest(agent, buildHeartbeat(inventory, { seq: 7 })),
      service.ingest(agent, buildHeartbeat({ mode: 'same', hash: 'h1' }, { seq: 8 })),
    ]);
    expect([a.ack, b.ack]).toEqual([7, 8]);
    const row = await t.services.database.db
      .selectFrom('clusters')
      .select('last_seq')
      .where('id', '=', c.clusterId)
      .executeTakeFirstOrThrow();
    expect(row.last_seq).toBe(8);
  });
});

it('sums usage over nodes, else over pods, and reports none as null', () => {
  expect(usageTotals({ nodes: { a: [100, 10], b: [50.4, 5] }, pods: { p: [1, 1] } })).toEqual([150, 15]);
  expect(usageTotals({ nodes: {}, pods: { p: [3, 4], q: [1, 1] } })).toEqual([4, 5]);
  expect(usageTotals({})).toEqual([null, null]);
  expect(usageTotals(undefined)).toEqual([null, null]);
});
