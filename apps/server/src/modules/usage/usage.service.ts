import type { ClusterUsage, PodUsage, PodUsagePoint, UsagePoint, UsageRange } from '@niro/protocol';
import { iso, type Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { HeartbeatListener, HeartbeatObservation } from '../heartbeat/heartbeat.service.js';
import { usageTotals } from '../heartbeat/heartbeat.service.js';
import type { ClustersService } from '../clusters/clusters.service.js';
import type { AccessScope } from '../orgs/access.js';
import {
  BUCKET_SECONDS,
  bucketClusterSamples,
  bucketPodSamples,
  SERIES_REFRESH_S,
  type ClusterBucketRow,
  type ClusterSampleRow,
  type PodBucketRow,
  type PodMinute,
  type UsageRepository,
} from './usage.repository.js';

/** Raw samples are kept this long (the 1-hour view), buckets for the 24-hour view. */
export const RAW_RETENTION_S = 3600;
export const BUCKET_RETENTION_S = 24 * 3600;
/** A pod's usage is sampled at most once per this (on the minute). */
export const POD_SAMPLE_SECONDS = 60;

export type UsageRecorderOptions = {
  /** Buffered samples are written at most this long after their heartbeat. */
  flushDelayMs: number;
  /** A buffer this large is written at once. */
  flushRows: number;
};

export const DEFAULT_USAGE_RECORDER_OPTIONS: UsageRecorderOptions = { flushDelayMs: 1000, flushRows: 2000 };

/**
 * Series ids known to this process. An entry is registered again once it is SERIES_REFRESH_S old,
 * so a series in use is never older than that in the database either (see rollup's prune).
 */
const MAX_CACHED_SERIES = 500_000;

type PendingPods = { clusterId: string; atS: number; pods: Record<string, [number, number]> };
type CachedSeries = { id: number; seenS: number };

const alignDown = (s: number, step: number): number => Math.floor(s / step) * step;

/**
 * Usage history for the dashboard's charts (ADR 0010): records what heartbeats report (a
 * cluster sample per heartbeat, pods at most once a minute), folds samples older than an hour
 * into 5-minute buckets, keeps a day, and answers the usage endpoints.
 *
 * Recording only queues: samples of many heartbeats are written together shortly after, so the
 * heartbeat path gains no database round trip.
 */
export class UsageService implements HeartbeatListener {
  private readonly options: UsageRecorderOptions;
  private clusterRows: ClusterSampleRow[] = [];
  private podBatches: PendingPods[] = [];
  private bufferedRows = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  /** The minute of each cluster's last pod sample. */
  private readonly lastPodMinute = new Map<string, number>();
  /** clusterId → "ns/name" → series. */
  private readonly series = new Map<string, Map<string, CachedSeries>>();
  private cachedSeries = 0;

  constructor(
    private readonly deps: {
      repo: UsageRepository;
      clusters: ClustersService;
      clock: Clock;
      config: Config;
      logger: Logger;
    },
    options: Partial<UsageRecorderOptions> = {},
  ) {
    this.options = { ...DEFAULT_USAGE_RECORDER_OPTIONS, ...options };
  }

  /** Queues the samples of one accepted heartbeat. */
  heartbeatApplied(o: HeartbeatObservation): Promise<void> {
    const atS = Math.floor(o.at / 1000);
    const [cpuMilli, memoryBytes] = usageTotals(o.usage);
    this.clusterRows.push({
      cluster_id: o.clusterId,
      at_s: atS,
      cpu_milli: cpuMilli,
      memory_bytes: memoryBytes,
      pods_running: o.podsRunning(),
    });
    this.bufferedRows++;
    const pods = o.usage?.pods;
    if (pods !== undefined) {
      const minute = alignDown(atS, POD_SAMPLE_SECONDS);
      if ((this.lastPodMinute.get(o.clusterId) ?? -1) < minute) {
        this.lastPodMinute.set(o.clusterId, minute);
        this.podBatches.push({ clusterId: o.clusterId, atS: minute, pods });
        this.bufferedRows += Object.keys(pods).length;
      }
    }
    if (this.bufferedRows >= this.options.flushRows) void this.flush();
    else if (this.timer === null) {
      this.timer = setTimeout(() => void this.flush(), this.options.flushDelayMs);
      this.timer.unref();
    }
    return Promise.resolve();
  }

  /** Writes what is buffered; resolves once it is stored (or dropped after an error, which is logged). */
  flush(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const clusters = this.clusterRows;
    const pods = this.podBatches;
    this.clusterRows = [];
    this.podBatches = [];
    this.bufferedRows = 0;
    this.writing = this.writing.then(() =>
      clusters.length === 0 && pods.length === 0
        ? undefined
        : this.write(clusters, pods).catch((err: unknown) => {
            // History is best effort: a lost batch is a gap in a chart, never a failed heartbeat.
            this.series.clear();
            this.cachedSeries = 0;
            this.deps.logger.warn({ err, samples: clusters.length }, 'storing usage samples failed');
          }),
    );
    return this.writing;
  }

  private async write(clusters: ClusterSampleRow[], batches: PendingPods[]): Promise<void> {
    const ids = new Set<string>();
    for (const r of clusters) ids.add(r.cluster_id);
    for (const b of batches) ids.add(b.clusterId);
    const existing = await this.deps.repo.existingClusters([...ids]);
    for (const id of ids) {
      if (existing.has(id)) continue;
      this.lastPodMinute.delete(id);
      this.dropSeries(id);
    }
    const minutes: PodMinute[] = [];
    const nowS = Math.floor(this.deps.clock.now() / 1000);
    for (const batch of batches) {
      if (!existing.has(batch.clusterId)) continue;
      const series = await this.seriesOf(batch.clusterId, Object.keys(batch.pods), nowS);
      const minute: PodMinute = { cluster_id: batch.clusterId, at_s: batch.atS, pods: [] };
      for (const key in batch.pods) {
        const pair = batch.pods[key];
        const id = series.get(key);
        if (pair === undefined || id === undefined) continue;
        minute.pods.push({ seriesId: id, cpuMilli: whole(pair[0]), memoryBytes: whole(pair[1]) });
      }
      minutes.push(minute);
    }
    await this.deps.repo.insertSamples(
      clusters.filter((r) => existing.has(r.cluster_id)),
      minutes,
    );
  }

  /** Series ids for these pod keys of a cluster, from the cache or the database. */
  private async seriesOf(clusterId: string, keys: readonly string[], nowS: number): Promise<Map<string, number>> {
    let cached = this.series.get(clusterId);
    const missing: { namespace: string; pod: string }[] = [];
    const out = new Map<string, number>();
    for (const key of keys) {
      const hit = cached?.get(key);
      if (hit !== undefined && nowS - hit.seenS < SERIES_REFRESH_S) {
        out.set(key, hit.id);
        continue;
      }
      const slash = key.indexOf('/');
      if (slash <= 0 || slash === key.length - 1) continue;
      missing.push({ namespace: key.slice(0, slash), pod: key.slice(slash + 1) });
    }
    if (missing.length === 0) return out;
    const all = await this.deps.repo.ensureSeries(clusterId, missing, nowS);
    if (this.cachedSeries >= MAX_CACHED_SERIES) {
      this.series.clear();
      this.cachedSeries = 0;
    }
    this.dropSeries(clusterId);
    cached = new Map(all);
    this.series.set(clusterId, cached);
    this.cachedSeries += cached.size;
    for (const m of missing) {
      const key = `${m.namespace}/${m.pod}`;
      const id = all.get(key)?.id;
      if (id !== undefined) out.set(key, id);
    }
    return out;
  }

  private dropSeries(clusterId: string): void {
    const old = this.series.get(clusterId);
    if (old === undefined) return;
    this.cachedSeries -= old.size;
    this.series.delete(clusterId);
  }

  /** `GET /api/v1/clusters/{id}/usage`: 404 unless the caller sees the cluster. */
  async clusterUsage(scope: AccessScope, clusterId: string, range: UsageRange): Promise<ClusterUsage> {
    const cluster = await this.deps.clusters.find(scope, clusterId);
    await this.flush();
    const nowS = Math.floor(this.deps.clock.now() / 1000);
    const capacity = { cpuMilli: cluster.cpu_capacity_milli, memoryBytes: cluster.memory_capacity_bytes };
    if (range === '1h') {
      const stepSeconds = this.deps.config.heartbeatIntervalSeconds;
      const rows = await this.deps.repo.clusterSamples(cluster.id, nowS - RAW_RETENTION_S);
      const points = rows.map((r): UsagePoint => ({
        t: iso(r.at_s * 1000),
        cpuMilli: r.cpu_milli,
        memoryBytes: r.memory_bytes,
        podsRunning: r.pods_running,
      }));
      return { clusterId: cluster.id, range, stepSeconds, capacity, points: withGaps(points, stepSeconds, clusterGap) };
    }
    const fromS = dayStart(nowS);
    const [buckets, raw] = await Promise.all([
      this.deps.repo.clusterBuckets(cluster.id, fromS),
      this.deps.repo.clusterSamples(cluster.id, fromS),
    ]);
    const merged = mergeClusterBuckets(buckets, bucketClusterSamples(raw));
    const points = merged.map((b): UsagePoint => ({
      t: iso(b.bucket_s * 1000),
      cpuMilli: b.cpu_avg,
      memoryBytes: b.memory_avg,
      podsRunning: b.pods_avg,
    }));
    return {
      clusterId: cluster.id,
      range,
      stepSeconds: BUCKET_SECONDS,
      capacity,
      points: withGaps(points, BUCKET_SECONDS, clusterGap),
    };
  }

  /** `GET /api/v1/clusters/{id}/pods/{namespace}/{pod}/usage`: empty points when nothing was recorded. */
  async podUsage(
    scope: AccessScope,
    clusterId: string,
    namespace: string,
    pod: string,
    range: UsageRange,
  ): Promise<PodUsage> {
    const cluster = await this.deps.clusters.find(scope, clusterId);
    await this.flush();
    const nowS = Math.floor(this.deps.clock.now() / 1000);
    const stepSeconds = range === '1h' ? POD_SAMPLE_SECONDS : BUCKET_SECONDS;
    const reply: PodUsage = { clusterId: cluster.id, namespace, pod, range, stepSeconds, points: [] };
    const seriesId = await this.deps.repo.findSeries(cluster.id, namespace, pod);
    if (seriesId === undefined) return reply;
    let points: PodUsagePoint[];
    if (range === '1h') {
      const rows = await this.deps.repo.podSamples(cluster.id, seriesId, nowS - RAW_RETENTION_S);
      points = rows.map((r) => ({ t: iso(r.at_s * 1000), cpuMilli: r.cpu_milli, memoryBytes: r.memory_bytes }));
    } else {
      const fromS = dayStart(nowS);
      const [buckets, raw] = await Promise.all([
        this.deps.repo.podBuckets(seriesId, fromS),
        this.deps.repo.podSamples(cluster.id, seriesId, fromS),
      ]);
      points = mergePodBuckets(buckets, bucketPodSamples(raw)).map((b) => ({
        t: iso(b.bucket_s * 1000),
        cpuMilli: b.cpu_avg,
        memoryBytes: b.memory_avg,
      }));
    }
    reply.points = withGaps(points, stepSeconds, podGap);
    return reply;
  }

  /**
   * One pass of the rollup job: folds raw samples older than an hour into packed hours, removes
   * hours wholly older than a day and pod series that hold nothing any more.
   */
  async rollup(): Promise<{ foldedSamples: number; writtenHours: number; prunedHours: number; prunedSeries: number }> {
    await this.flush();
    const nowS = Math.floor(this.deps.clock.now() / 1000);
    const folded = await this.deps.repo.fold(alignDown(nowS - RAW_RETENTION_S, BUCKET_SECONDS));
    // A series with raw samples left was registered at most SERIES_REFRESH_S before its newest
    // one, so only series unseen for longer than that and the raw hour can have nothing left.
    const unseenBeforeS = nowS - RAW_RETENTION_S - SERIES_REFRESH_S - BUCKET_SECONDS;
    const pruned = await this.deps.repo.prune(dayStart(nowS), unseenBeforeS);
    const result = {
      foldedSamples: folded.clusterSamples + folded.podSamples,
      writtenHours: folded.hourRows,
      prunedHours: pruned.hours,
      prunedSeries: pruned.series,
    };
    if (result.foldedSamples > 0 || result.prunedHours > 0) this.deps.logger.debug(result, 'usage history rolled up');
    return result;
  }
}

/** The first bucket of the 24-hour view: 288 buckets, the last one still filling. */
const dayStart = (nowS: number): number => alignDown(nowS, BUCKET_SECONDS) - BUCKET_RETENTION_S + BUCKET_SECONDS;

const whole = (n: number): number => Math.min(Math.round(n), Number.MAX_SAFE_INTEGER);

/**
 * Where consecutive points are more than two steps apart, one point with null values (one step
 * after the earlier) marks the gap, so a chart breaks its line instead of drawing across it.
 */
function withGaps<P extends { t: string }>(points: P[], stepSeconds: number, gapAt: (t: string) => P): P[] {
  const out: P[] = [];
  let previousMs: number | null = null;
  for (const p of points) {
    const ms = Date.parse(p.t);
    if (previousMs !== null && ms - previousMs > 2 * stepSeconds * 1000)
      out.push(gapAt(iso(previousMs + stepSeconds * 1000)));
    out.push(p);
    previousMs = ms;
  }
  return out;
}

const clusterGap = (t: string): UsagePoint => ({ t, cpuMilli: null, memoryBytes: null, podsRunning: null });
const podGap = (t: string): PodUsagePoint => ({ t, cpuMilli: null, memoryBytes: null });

const weighted = (a: number | null, an: number, b: number | null, bn: number): number | null =>
  a === null ? b : b === null ? a : Math.round((a * an + b * bn) / (an + bn));
const larger = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.max(a, b);

/** Stored buckets and buckets of raw samples, by start time; one bucket in both (a late sample) is merged. */
function mergeClusterBuckets(stored: ClusterBucketRow[], live: ClusterBucketRow[]): ClusterBucketRow[] {
  const byStart = new Map<number, ClusterBucketRow>();
  for (const b of stored) byStart.set(b.bucket_s, b);
  for (const b of live) {
    const s = byStart.get(b.bucket_s);
    byStart.set(
      b.bucket_s,
      s === undefined
        ? b
        : {
            ...s,
            samples: s.samples + b.samples,
            cpu_avg: weighted(s.cpu_avg, s.samples, b.cpu_avg, b.samples),
            cpu_max: larger(s.cpu_max, b.cpu_max),
            memory_avg: weighted(s.memory_avg, s.samples, b.memory_avg, b.samples),
            memory_max: larger(s.memory_max, b.memory_max),
            pods_avg: weighted(s.pods_avg, s.samples, b.pods_avg, b.samples),
            pods_max: larger(s.pods_max, b.pods_max),
          },
    );
  }
  return [...byStart.values()].sort((a, b) => a.bucket_s - b.bucket_s);
}

function mergePodBuckets(stored: PodBucketRow[], live: PodBucketRow[]): PodBucketRow[] {
  const byStart = new Map<number, PodBucketRow>();
  for (const b of stored) byStart.set(b.bucket_s, b);
  for (const b of live) {
    const s = byStart.get(b.bucket_s);
    byStart.set(
      b.bucket_s,
      s === undefined
        ? b
        : {
            ...s,
            samples: s.samples + b.samples,
            cpu_avg: weighted(s.cpu_avg, s.samples, b.cpu_avg, b.samples) ?? 0,
            memory_avg: weighted(s.memory_avg, s.samples, b.memory_avg, b.samples) ?? 0,
          },
    );
  }
  return [...byStart.values()].sort((a, b) => a.bucket_s - b.bucket_s);
}
