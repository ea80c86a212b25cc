import { hostname } from 'node:os';
import { ApiClient, NiroApiError, type Environment } from '@niro/protocol';
import { createAgentDispatcher } from './agent-http.js';
import { generateClusterInventory } from './inventory.js';
import { generateClusterProfiles, type ClusterProfile } from './names.js';
import { createRng, type Seed } from './rng.js';
import { SimulatedAgent, describeError } from './simulated-agent.js';

export type SimulationOptions = {
  url: string;
  /** An API token (`niro_pat_…`) used to create the clusters. */
  token?: string;
  /** Traded for an API token when no token is given. */
  email?: string;
  password?: string;
  /** Enroll with these tokens instead of creating clusters (one cluster per token). */
  enrollmentTokens?: string[];
  /** Number of clusters to create (ignored when enrollment tokens are given). */
  clusters?: number;
  nodes: number;
  pods: number;
  crashloopRate?: number;
  /** Relative weights of environments; by default each kind of site has its usual environment. */
  environmentMix?: Partial<Record<Environment, number>>;
  /** Cluster names are `<prefix>-<site>`; default `sim`, empty for none. */
  namePrefix?: string;
  /** Org for the new clusters; the server's default for the caller when absent. */
  orgId?: string;
  /** Fixed heartbeat interval; the server's interval by default. */
  intervalSeconds?: number;
  /** Usage figures in each heartbeat: nodes and pods (default), nodes only, or none. */
  usage?: 'all' | 'nodes' | 'none';
  seed?: Seed;
  /** Parallel create/enroll requests while ramping up. */
  concurrency?: number;
  /** Keep-alive connections shared by all simulated agents. */
  connections?: number;
  onProgress?: (progress: SimulationProgress) => void;
};

export type SimulationPhase = 'starting' | 'ramping' | 'running' | 'stopped' | 'failed';

export type SimulationProgress = {
  phase: SimulationPhase;
  /** Clusters this run is bringing up. */
  total: number;
  created: number;
  enrolled: number;
  /** Clusters whose agent had at least one heartbeat accepted. */
  heartbeating: number;
  errors: number;
  lastError: string | null;
  heartbeatsSent: number;
  heartbeatFailures: number;
  bytesSent: number;
  /** Median and 99th percentile of the latest heartbeat latency across agents. */
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  elapsedMs: number;
};

export type SimulatedCluster = { id: string; name: string; profile: ClusterProfile | null; agent: SimulatedAgent };

export type Simulation = {
  /** Resolves once every cluster is enrolled and heartbeating has started; rejects on a fatal error. */
  ready: Promise<void>;
  progress(): SimulationProgress;
  clusters(): readonly SimulatedCluster[];
  /** Stops ramping up and every agent; safe to call more than once. */
  stop(): Promise<void>;
};

/** Errors that will not go away by retrying the next cluster: wrong credentials, no server. */
function isFatal(err: unknown): boolean {
  if (err instanceof NiroApiError) return err.status === 401 || err.status === 403;
  return err instanceof Error && describeError(err) === 'connection refused';
}

const percentile = (sorted: number[], p: number): number | null =>
  sorted.length === 0 ? null : (sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? null);

/**
 * Brings up a fleet of simulated clusters against a real server: creates the clusters through
 * the API (or takes enrollment tokens), enrolls one simulated agent per cluster and keeps them
 * heartbeating until stop().
 */
export function runSimulation(options: SimulationOptions): Simulation {
  const started = Date.now();
  const rng = createRng(options.seed ?? Date.now());
  const dispatcher = createAgentDispatcher({ connections: options.connections ?? 128 });
  const given = options.enrollmentTokens;
  const total = given !== undefined ? given.length : Math.max(0, Math.floor(options.clusters ?? 0));
  const concurrency = Math.max(1, options.concurrency ?? 16);
  const clusters: SimulatedCluster[] = [];
  const state = {
    phase: 'starting' as SimulationPhase,
    created: 0,
    enrolled: 0,
    errors: 0,
    lastError: null as string | null,
  };
  let stopped = false;
  let stopping: Promise<void> | null = null;

  const progress = (): SimulationProgress => {
    let heartbeating = 0;
    let sent = 0;
    let failures = 0;
    let bytes = 0;
    const latencies: number[] = [];
    for (const { agent } of clusters) {
      const s = agent.stats;
      if (s.sent > 0) heartbeating++;
      sent += s.sent;
      failures += s.failures;
      bytes += s.bytesSent;
      if (s.lastLatencyMs !== null) latencies.push(s.lastLatencyMs);
    }
    latencies.sort((a, b) => a - b);
    return {
      phase: state.phase,
      total,
      created: state.created,
      enrolled: state.enrolled,
      heartbeating,
      errors: state.errors,
      lastError: state.lastError,
      heartbeatsSent: sent,
      heartbeatFailures: failures,
      bytesSent: bytes,
      latencyP50Ms: percentile(latencies, 0.5),
      latencyP99Ms: percentile(latencies, 0.99),
      elapsedMs: Date.now() - started,
    };
  };
  const report = (): void => options.onProgress?.(progress());
  const fail = (err: unknown): void => {
    state.errors++;
    state.lastError = err instanceof Error ? describeError(err) : String(err);
    report();
  };

  const ready = (async () => {
    let api: ApiClient | null = null;
    let profiles: (ClusterProfile | null)[] = given?.map(() => null) ?? [];
    if (given === undefined) {
      api = new ApiClient({ baseUrl: options.url, userAgent: 'niro-simulate' });
      if (options.token !== undefined) {
        api = api.withToken(options.token);
      } else if (options.email !== undefined && options.password !== undefined) {
        const { token } = await api.createToken(options.email, options.password, `niro simulate on ${hostname()}`);
        api = api.withToken(token);
      } else {
        throw new Error('runSimulation needs an API token, an email and password, or enrollment tokens');
      }
      const existing = await api.listClusters();
      profiles = generateClusterProfiles(total, rng.fork('names'), {
        prefix: options.namePrefix ?? 'sim',
        environmentMix: options.environmentMix,
        taken: existing.items.map((c) => c.name),
      });
    }
    state.phase = 'ramping';
    report();

    const bringUp = async (index: number): Promise<void> => {
      const profile = profiles[index] ?? null;
      let token = given?.[index];
      let id: string | null = null;
      let name = profile?.name ?? `cluster-${index + 1}`;
      if (api !== null && profile !== null) {
        const created = await createWithRetry(api, profile, options.orgId);
        token = created.token;
        id = created.id;
        name = created.name;
        state.created++;
        report();
      }
      if (token === undefined || stopped) return;
      const seed = `${String(options.seed ?? started)}:${index}`;
      const inventory = generateClusterInventory({
        nodes: options.nodes,
        pods: options.pods,
        seed,
        clusterName: name,
        crashloopRate: options.crashloopRate ?? 0,
        imagePullErrorRate: (options.crashloopRate ?? 0) / 4,
        now: Date.now(),
      });
      const agent = new SimulatedAgent({
        url: options.url,
        inventory,
        seed,
        dispatcher,
        intervalSeconds: options.intervalSeconds,
        usage: options.usage,
        // Ramp-up already spreads the agents; a short jitter gets each cluster reporting quickly.
        maxStartDelayMs: 1000,
        onHeartbeat: (r) => {
          if (r.seq === 0 || state.phase === 'ramping') report();
        },
      });
      const credentials = await agent.enroll(token);
      clusters.push({ id: id ?? credentials.clusterId, name, profile, agent });
      state.enrolled++;
      if (stopped) {
        await agent.stop();
        return;
      }
      agent.start();
      report();
    };

    let next = 0;
    let fatal: unknown = null;
    const worker = async (): Promise<void> => {
      while (!stopped && fatal === null && next < total) {
        const index = next++;
        try {
          await bringUp(index);
        } catch (err) {
          if (stopped) return;
          if (isFatal(err)) fatal ??= err;
          fail(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, total) }, () => worker()));
    if (fatal !== null) throw fatal;
    if (!stopped) {
      state.phase = 'running';
      report();
    }
  })();
  ready.catch(() => {
    if (!stopped) state.phase = 'failed';
  });

  return {
    ready,
    progress,
    clusters: () => clusters,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        await ready.catch(() => undefined);
        await Promise.all(clusters.map((c) => c.agent.stop()));
        await dispatcher.close();
        state.phase = 'stopped';
        report();
      })();
      return stopping;
    },
  };
}

async function createWithRetry(
  api: ApiClient,
  profile: ClusterProfile,
  orgId: string | undefined,
): Promise<{ id: string; name: string; token: string }> {
  for (let attempt = 0; ; attempt++) {
    const name = attempt === 0 ? profile.name : `${profile.name.slice(0, 58)}-${attempt + 1}`;
    try {
      const res = await api.createCluster({
        name,
        environment: profile.environment,
        labels: { ...profile.labels, simulated: 'true' },
        ...(orgId !== undefined ? { orgId } : {}),
      });
      return { id: res.cluster.id, name: res.cluster.name, token: res.enrollment.token };
    } catch (err) {
      // Someone else may have taken the name since we listed the clusters.
      if (!(err instanceof NiroApiError && err.status === 409) || attempt >= 5) throw err;
    }
  }
}
