import type { ClusterUsage, Heartbeat, Inventory, PodUsage } from '@niro/protocol';
import { buildHeartbeat, testNode, testPod } from '@niro/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp } from '../../test-support/app.js';
import { enrollTestCluster, type EnrolledTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { sendHeartbeat } from '../../test-support/heartbeats.js';
import {
  CLUSTER_HOUR,
  CorruptUsageDataError,
  decodeHour,
  decodePodSamples,
  encodeHour,
  encodePodSamples,
  hourOf,
  POD_HOUR,
  type HourSlots,
} from './usage.codec.js';
import { UsageRepository } from './usage.repository.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const INVENTORY: Inventory = {
  mode: 'full',
  hash: 'h1',
  nodes: [testNode('node-1'), testNode('node-2')],
  pods: [testPod('api-1', 'api'), testPod('api-2', 'api'), { ...testPod('api-3', 'api'), phase: 'Pending' }],
  workloads: [],
};

/** Node usage adding up to `cpuMilli` and `memoryBytes`, and optionally pod usage. */
const usageOf = (
  cpuMilli: number,
  memoryBytes: number,
  pods?: Record<string, [number, number]>,
): NonNullable<Heartbeat['usage']> => ({
  nodes: { 'node-1': [cpuMilli - 100, memoryBytes - GiB], 'node-2': [100, GiB] },
  ...(pods === undefined ? {} : { pods }),
});

describeEachDatabase('usage history', (dialect) => {
  let t: TestApp;
  const seqs = new Map<string, number>();

  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.dispose());

  /** One heartbeat at the clock's time: the full inventory first, then `same`. */
  async function beat(c: EnrolledTestCluster, usage: Heartbeat['usage']): Promise<void> {
    const seq = (seqs.get(c.clusterId) ?? 0) + 1;
    seqs.set(c.clusterId, seq);
    const inventory: Inventory = seq === 1 ? INVENTORY : { mode: 'same', hash: 'h1' };
    await sendHeartbeat(t, c.agentKey, buildHeartbeat(inventory, { seq, now: t.clock.now(), usage }));
  }

  async function clusterUsage(c: EnrolledTestCluster, range: string, token = c.owner.token): Promise<ClusterUsage> {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clusters/${c.clusterId}/usage?range=${range}`,
      headers: bearer(token),
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<ClusterUsage>();
  }

  async function podUsage(c: EnrolledTestCluster, pod: string, range: string): Promise<PodUsage> {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clusters/${c.clusterId}/pods/shop/${pod}/usage?range=${range}`,
      headers: bearer(c.owner.token),
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<PodUsage>();
  }

  const rowCount = async (
    table: 'usage_cluster_samples' | 'usage_cluster_hours' | 'usage_pod_series' | 'usage_pod_samples',
    clusterId: string,
  ): Promise<number> => {
    const rows = await t.services.database.db
      .selectFrom(table)
      .select('cluster_id')
      .where('cluster_id', '=', clusterId)
      .execute();
    return rows.length;
  };

  it('records a point per heartbeat for the last hour: summed node usage, running pods, capacity', async () => {
    const c = await enrollTestCluster(t);
    const start = t.clock.now();
    await beat(c, usageOf(1500, 4 * GiB));
    t.clock.advance(15_000);
    await beat(c, usageOf(1700, 5 * GiB));
    t.clock.advance(15_000);
    // No metrics-server: the point is still there, without CPU and memory.
    await beat(c, undefined);

    const usage = await clusterUsage(c, '1h');
    expect(usage).toMatchObject({
      clusterId: c.clusterId,
      range: '1h',
      stepSeconds: t.services.config.heartbeatIntervalSeconds,
      capacity: { cpuMilli: 8000, memoryBytes: 16 * GiB },
    });
    expect(usage.points).toEqual([
      { t: new Date(start).toISOString(), cpuMilli: 1500, memoryBytes: 4 * GiB, podsRunning: 2 },
      { t: new Date(start + 15_000).toISOString(), cpuMilli: 1700, memoryBytes: 5 * GiB, podsRunning: 2 },
      { t: new Date(start + 30_000).toISOString(), cpuMilli: null, memoryBytes: null, podsRunning: 2 },
    ]);
    // Without `range` the last hour is meant.
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clusters/${c.clusterId}/usage`,
      headers: bearer(c.owner.token),
    });
    expect(res.json<ClusterUsage>().points).toHaveLength(3);
  });

  it('marks a gap of more than two heartbeats with one null point', async () => {
    const c = await enrollTestCluster(t);
    const start = t.clock.now();
    await beat(c, usageOf(1000, 2 * GiB));
    t.clock.advance(5 * 60_000);
    await beat(c, usageOf(1000, 2 * GiB));
    const points = (await clusterUsage(c, '1h')).points;
    expect(points.map((p) => [p.t, p.cpuMilli])).toEqual([
      [new Date(start).toISOString(), 1000],
      [new Date(start + t.services.config.heartbeatIntervalSeconds * 1000).toISOString(), null],
      [new Date(start + 5 * 60_000).toISOString(), 1000],
    ]);
  });

  it('samples pod usage at most once a minute, and only usage the agent sent with that heartbeat', async () => {
    const c = await enrollTestCluster(t);
    // Align to a minute so the expected minutes are plain.
    t.clock.set(Math.ceil(t.clock.now() / 60_000) * 60_000);
    const start = t.clock.now();
    for (let i = 0; i < 8; i++) {
      await beat(c, usageOf(1000, 2 * GiB, { 'shop/api-1': [10 + i, 100 * MiB], 'shop/api-2': [20, 50 * MiB] }));
      t.clock.advance(15_000);
    }
    // Node usage only: the pod figures the server carries for the snapshot are not new samples.
    t.clock.set(start + 3 * 60_000);
    await beat(c, usageOf(1000, 2 * GiB));

    const api1 = await podUsage(c, 'api-1', '1h');
    expect(api1).toMatchObject({
      clusterId: c.clusterId,
      namespace: 'shop',
      pod: 'api-1',
      range: '1h',
      stepSeconds: 60,
    });
    expect(api1.points).toEqual([
      { t: new Date(start).toISOString(), cpuMilli: 10, memoryBytes: 100 * MiB },
      { t: new Date(start + 60_000).toISOString(), cpuMilli: 14, memoryBytes: 100 * MiB },
    ]);
    expect((await podUsage(c, 'api-2', '1h')).points).toHaveLength(2);
    // A pod with no usage recorded: an empty series, not an error.
    expect(await podUsage(c, 'api-3', '24h')).toEqual({
      clusterId: c.clusterId,
      namespace: 'shop',
      pod: 'api-3',
      range: '24h',
      stepSeconds: 300,
      points: [],
    });
  });

  it('folds samples older than an hour into 5-minute averages, and drops what is older than a day', async () => {
    const c = await enrollTestCluster(t);
    t.clock.set(Math.ceil(t.clock.now() / 300_000) * 300_000 + 300_000);
    const start = t.clock.now();
    // 40 heartbeats, 15 s apart: two buckets of 20 (CPU 1000…1190 and 1200…1390), then the rest
    // of the hour quiet.
    for (let i = 0; i < 40; i++) {
      await beat(
        c,
        usageOf(1000 + 10 * i, 2 * GiB + i * MiB, i % 4 === 0 ? { 'shop/api-1': [i, 10 * MiB] } : undefined),
      );
      t.clock.advance(15_000);
    }
    const before = await clusterUsage(c, '24h');
    t.clock.set(start + 70 * 60_000);
    const rolled = await t.services.usageRollupJob.tick();
    expect(rolled).toMatchObject({ foldedSamples: expect.any(Number) as number });
    expect(await rowCount('usage_cluster_samples', c.clusterId)).toBe(0);
    const repo = new UsageRepository(t.services.database.db);
    const startS = start / 1000;
    expect((await repo.clusterBuckets(c.clusterId, 0)).map((b) => [b.bucket_s, b.samples])).toEqual([
      [startS, 20],
      [startS + 300, 20],
    ]);
    // Packed: one row per hour that the two buckets fall in.
    expect(await rowCount('usage_cluster_hours', c.clusterId)).toBe(
      new Set([hourOf(startS), hourOf(startS + 300)]).size,
    );

    const day = await clusterUsage(c, '24h');
    expect(day.stepSeconds).toBe(300);
    expect(day.points).toEqual([
      {
        t: new Date(start).toISOString(),
        cpuMilli: 1095,
        memoryBytes: 2 * GiB + Math.round(9.5 * MiB),
        podsRunning: 2,
      },
      {
        t: new Date(start + 300_000).toISOString(),
        cpuMilli: 1295,
        memoryBytes: 2 * GiB + Math.round(29.5 * MiB),
        podsRunning: 2,
      },
    ]);
    // The same averages before and after folding: the 24-hour view does not jump at the fold.
    expect(before.points).toEqual(day.points);
    // A late sample of a folded bucket (another replica's, say) is merged into it, weighted.
    await t.services.database.db
      .insertInto('usage_cluster_samples')
      .values({
        cluster_id: c.clusterId,
        at_s: start / 1000 + 10,
        cpu_milli: 3095,
        memory_bytes: null,
        pods_running: 2,
      })
      .execute();
    await t.services.usageRollupJob.tick();
    const merged = (await repo.clusterBuckets(c.clusterId, 0)).find((b) => b.bucket_s === startS);
    expect(merged).toMatchObject({ samples: 21, cpu_avg: 1190, cpu_max: 3095, memory_max: 2 * GiB + 19 * MiB });
    expect((await clusterUsage(c, '24h')).points[0]?.cpuMilli).toBe(1190);
    // Folded samples are no longer in the last hour.
    expect((await clusterUsage(c, '1h')).points).toEqual([]);
    // Pod samples (minutes 0..9, values 0, 4, ..., 36): 5 per bucket, averaged.
    const pod = await podUsage(c, 'api-1', '24h');
    expect(pod.points).toEqual([
      { t: new Date(start).toISOString(), cpuMilli: 8, memoryBytes: 10 * MiB },
      { t: new Date(start + 300_000).toISOString(), cpuMilli: 28, memoryBytes: 10 * MiB },
    ]);

    t.clock.set(start + 25 * 3600_000);
    await t.services.usageRollupJob.tick();
    expect((await clusterUsage(c, '24h')).points).toEqual([]);
    expect(await rowCount('usage_cluster_hours', c.clusterId)).toBe(0);
    // Pods with nothing left lose their series too.
    expect(await rowCount('usage_pod_series', c.clusterId)).toBe(0);
  });

  it('merges a late pod sample into its packed hour, weighted by the samples already there', async () => {
    const c = await enrollTestCluster(t);
    t.clock.set(Math.ceil(t.clock.now() / 300_000) * 300_000 + 300_000);
    const start = t.clock.now();
    // One pod sample a minute for five minutes: CPU 10, 20, 30, 40, 50.
    for (let i = 0; i < 5; i++) {
      await beat(c, usageOf(1000, 2 * GiB, { 'shop/api-1': [10 * (i + 1), 100 * MiB] }));
      t.clock.advance(60_000);
    }
    t.clock.set(start + 70 * 60_000);
    await t.services.usageRollupJob.tick();
    expect(await rowCount('usage_pod_samples', c.clusterId)).toBe(0);
    const repo = new UsageRepository(t.services.database.db);
    const seriesId = (await repo.findSeries(c.clusterId, 'shop', 'api-1')) ?? -1;
    expect(await repo.podBuckets(seriesId, 0)).toEqual([
      { series_id: seriesId, bucket_s: start / 1000, samples: 5, cpu_avg: 30, memory_avg: 100 * MiB },
    ]);
    // Another replica's sample of the folded minute 2 arrives late.
    await repo.insertSamples(
      [],
      [
        {
          cluster_id: c.clusterId,
          at_s: start / 1000 + 120,
          pods: [{ seriesId, cpuMilli: 90, memoryBytes: 106 * MiB }],
        },
      ],
    );
    await t.services.usageRollupJob.tick();
    expect(await repo.podBuckets(seriesId, 0)).toEqual([
      { series_id: seriesId, bucket_s: start / 1000, samples: 6, cpu_avg: 40, memory_avg: 101 * MiB },
    ]);
    expect((await podUsage(c, 'api-1', '24h')).points).toEqual([
      { t: new Date(start).toISOString(), cpuMilli: 40, memoryBytes: 101 * MiB },
    ]);
  });

  it('keeps buckets on both sides of an hour boundary, and prunes only whole hours', async () => {
    const c = await enrollTestCluster(t);
    // Buckets at hh:50, hh:55 and (hh+1):00, one heartbeat a minute with pod usage.
    const hourMs = (hourOf(t.clock.now() / 1000) + 2 * 3600) * 1000;
    const first = hourMs - 10 * 60_000;
    t.clock.set(first);
    for (let i = 0; i < 15; i++) {
      await beat(c, usageOf(1000 + 100 * Math.floor(i / 5), 2 * GiB, { 'shop/api-1': [i, 10 * MiB] }));
      t.clock.advance(60_000);
    }
    const expected = [0, 1, 2].map((k) => ({
      t: new Date(first + k * 300_000).toISOString(),
      cpuMilli: 1000 + 100 * k,
      memoryBytes: 2 * GiB,
      podsRunning: 2,
    }));
    expect((await clusterUsage(c, '24h')).points).toEqual(expected);
    const podBefore = (await podUsage(c, 'api-1', '24h')).points;
    expect(podBefore.map((p) => p.cpuMilli)).toEqual([2, 7, 12]);

    t.clock.set(first + 80 * 60_000);
    await t.services.usageRollupJob.tick();
    expect(await rowCount('usage_cluster_samples', c.clusterId)).toBe(0);
    expect(await rowCount('usage_cluster_hours', c.clusterId)).toBe(2);
    // The same points from packed hours as from raw samples.
    expect((await clusterUsage(c, '24h')).points).toEqual(expected);
    expect((await podUsage(c, 'api-1', '24h')).points).toEqual(podBefore);

    // The window starts at hh:55: the hh:50 bucket leaves the view, its hour row stays.
    t.clock.set(first + 300_000 + 24 * 3600_000 - 300_000);
    await t.services.usageRollupJob.tick();
    expect((await clusterUsage(c, '24h')).points).toEqual(expected.slice(1));
    expect((await podUsage(c, 'api-1', '24h')).points).toEqual(podBefore.slice(1));
    expect(await rowCount('usage_cluster_hours', c.clusterId)).toBe(2);
    // The window starts at (hh+1):00: the earlier hour goes whole, the later one stays.
    t.clock.advance(300_000);
    await t.services.usageRollupJob.tick();
    expect((await clusterUsage(c, '24h')).points).toEqual(expected.slice(2));
    expect((await podUsage(c, 'api-1', '24h')).points).toEqual(podBefore.slice(2));
    expect(await rowCount('usage_cluster_hours', c.clusterId)).toBe(1);
    const repo = new UsageRepository(t.services.database.db);
    const seriesId = (await repo.findSeries(c.clusterId, 'shop', 'api-1')) ?? -1;
    const podHours = await t.services.database.db
      .selectFrom('usage_pod_hours')
      .select('hour_s')
      .where('series_id', '=', seriesId)
      .execute();
    expect(podHours.map((h) => Number(h.hour_s))).toEqual([hourMs / 1000]);
  });

  it('removes a cluster’s history with the cluster', async () => {
    const c = await enrollTestCluster(t);
    await beat(c, usageOf(1000, 2 * GiB, { 'shop/api-1': [5, MiB] }));
    // Folded history (an hour later) and raw samples both.
    t.clock.advance(70 * 60_000);
    await t.services.usageRollupJob.tick();
    await beat(c, usageOf(1000, 2 * GiB, { 'shop/api-1': [5, MiB] }));
    await t.services.usage.flush();
    expect(await rowCount('usage_cluster_samples', c.clusterId)).toBe(1);
    expect(await rowCount('usage_cluster_hours', c.clusterId)).toBe(1);
    expect(await rowCount('usage_pod_samples', c.clusterId)).toBe(1);
    expect(await rowCount('usage_pod_series', c.clusterId)).toBe(1);
    const repo = new UsageRepository(t.services.database.db);
    const seriesId = await repo.findSeries(c.clusterId, 'shop', 'api-1');
    expect(seriesId).toBeDefined();
    expect(await repo.podBuckets(seriesId ?? 0, 0)).toHaveLength(1);
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/clusters/${c.clusterId}`,
      headers: bearer(c.owner.token),
    });
    expect(res.statusCode).toBe(204);
    expect(await rowCount('usage_cluster_samples', c.clusterId)).toBe(0);
    expect(await rowCount('usage_pod_samples', c.clusterId)).toBe(0);
    expect(await rowCount('usage_cluster_hours', c.clusterId)).toBe(0);
    expect(await rowCount('usage_pod_series', c.clusterId)).toBe(0);
    expect(await repo.podBuckets(seriesId ?? 0, 0)).toEqual([]);
    const hours = await t.services.database.db.selectFrom('usage_pod_hours').select('series_id').execute();
    const series = await t.services.database.db.selectFrom('usage_pod_series').select('id').execute();
    const known = new Set(series.map((s) => Number(s.id)));
    expect(hours.every((h) => known.has(Number(h.series_id)))).toBe(true);
  });

  it('answers 404 for clusters the caller cannot see, 400 for a bad range, and lets viewers read', async () => {
    const c = await enrollTestCluster(t);
    await beat(c, usageOf(1000, 2 * GiB));
    const outsider = await createUserWithToken(t.services, { role: 'viewer' });
    for (const url of [
      `/api/v1/clusters/${c.clusterId}/usage`,
      `/api/v1/clusters/${c.clusterId}/pods/shop/api-1/usage`,
    ]) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(outsider.token) });
      expect(res.statusCode).toBe(404);
      expect(res.json<{ error: { code: string } }>().error.code).toBe('not_found');
    }
    const unknown = await t.app.inject({
      method: 'GET',
      url: '/api/v1/clusters/cl_unknown/usage?range=1h',
      headers: bearer(c.owner.token),
    });
    expect(unknown.statusCode).toBe(404);

    const bad = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clusters/${c.clusterId}/usage?range=7d`,
      headers: bearer(c.owner.token),
    });
    expect(bad.statusCode).toBe(400);
    const body = bad.json<{ error: { code: string; details: { fields: { field: string }[] } } }>();
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.details.fields.map((f) => f.field)).toEqual(['querystring.range']);
    const badPod = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clusters/${c.clusterId}/pods/shop/api-1/usage?range=week`,
      headers: bearer(c.owner.token),
    });
    expect(badPod.statusCode).toBe(400);

    const viewer = await createUserWithToken(t.services, { role: 'viewer', orgId: c.orgId });
    expect((await clusterUsage(c, '1h', viewer.token)).points).toHaveLength(1);
  });
});

describe('usage codec', () => {
  it('round-trips packed hours: gaps, nulls, large values and an unfinished hour', () => {
    const slots: HourSlots = new Array(12).fill(null);
    slots[0] = { samples: 20, values: [1500, 1900, 8 * GiB, 9 * GiB, 50, 51] };
    slots[1] = { samples: 19, values: [1200, 1300, 7 * GiB, 9 * GiB + 1, 49, 50] };
    slots[4] = { samples: 3, values: [null, null, null, null, 0, 0] };
    slots[5] = { samples: 1, values: [2 ** 50, 2 ** 50, 0, 0, null, 7] };
    const packed = encodeHour(slots, CLUSTER_HOUR);
    expect(decodeHour(packed, CLUSTER_HOUR)).toEqual(slots);
    // Nothing is written past the last bucket.
    expect(decodeHour(encodeHour(new Array(12).fill(null), CLUSTER_HOUR), CLUSTER_HOUR)).toEqual(
      new Array(12).fill(null),
    );
    const pods: HourSlots = new Array(12).fill(null);
    for (let s = 0; s < 12; s++) pods[s] = { samples: 5, values: [5 + s * 3, 64e6 + s * 4096] };
    const podPacked = encodeHour(pods, POD_HOUR);
    expect(decodeHour(podPacked, POD_HOUR)).toEqual(pods);
    // A full pod hour: a format byte, then a count byte and two small deltas per bucket.
    // eslint-disable-next-line no-console -- a size worth seeing, printed rather than asserted exactly
    console.log(`a full pod hour packs into ${podPacked.length} bytes, a cluster row above into ${packed.length}`);
    expect(podPacked.length).toBeLessThan(60);
  });

  it('round-trips a minute of pod samples in any order, and rejects corrupt data', () => {
    const samples = [
      { seriesId: 700_001, cpuMilli: 12, memoryBytes: 300 * MiB },
      { seriesId: 3, cpuMilli: 0, memoryBytes: 0 },
      { seriesId: 42, cpuMilli: 64_000, memoryBytes: 512 * GiB },
    ];
    const packed = encodePodSamples(samples);
    expect(decodePodSamples(packed)).toEqual([...samples].sort((a, b) => a.seriesId - b.seriesId));
    expect(() => decodePodSamples(packed.slice(0, packed.length - 1))).toThrow(CorruptUsageDataError);
    expect(() => decodeHour(Uint8Array.of(9), POD_HOUR)).toThrow(CorruptUsageDataError);
    const hour = encodeHour([{ samples: 1, values: [1, 2] }], POD_HOUR);
    expect(() => decodeHour(Uint8Array.of(...hour, 1, 2, 3, 4), POD_HOUR)).toThrow(CorruptUsageDataError);
  });
});
