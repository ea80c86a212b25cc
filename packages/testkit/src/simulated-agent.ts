import { randomUUID } from 'node:crypto';
import {
  EnrollResponse,
  HeartbeatReply,
  NiroApiError,
  type Capabilities,
  type EnrollRequest,
  type Heartbeat,
  type Inventory,
  type KubeEvent,
} from '@niro/protocol';
import { Value } from 'typebox/value';
import type { Dispatcher } from 'undici';
import { createAgentDispatcher, postJson } from './agent-http.js';
import {
  DEFAULT_CAPABILITIES,
  SIMULATED_AGENT_VERSION,
  buildHeartbeat,
  diffInventory,
  generateUsage,
  generateWarningEvents,
  hashInventory,
  inventoryKubernetesVersion,
  mutateInventory,
  toFullInventory,
  toSameInventory,
  type ChurnOptions,
  type ClusterInventory,
} from './inventory.js';
import { createRng, type Rng, type Seed } from './rng.js';

export type AgentCredentials = { clusterId: string; agentKey: string };

export type SimulatedAgentOptions = {
  /** Base URL of the Niro server. */
  url: string;
  /** With `objects` (see generatePolicyObjects), the agent reports policy objects as well. */
  inventory: ClusterInventory;
  seed: Seed;
  /** Shared keep-alive pool; one is created (and closed on stop) when absent. */
  dispatcher?: Dispatcher;
  /** Skip enrollment and use existing credentials. */
  credentials?: AgentCredentials;
  /** The `kube-system` namespace UID; random when absent. */
  clusterUid?: string;
  distribution?: string;
  agentVersion?: string;
  capabilities?: Capabilities;
  /** Fixed heartbeat interval; by default the server's `heartbeatIntervalSeconds` is followed. */
  intervalSeconds?: number;
  /** The first heartbeat after start() comes after a random delay in [0, maxStartDelayMs). */
  maxStartDelayMs?: number;
  /** Gzip request bodies (`content-encoding: gzip`), as the real agent does. */
  gzip?: boolean;
  /** Inventory churn between heartbeats; `false` for a cluster that never changes. */
  churn?: ChurnOptions | false;
  /** Which usage figures to report: node and pod usage, nodes only, or none (no metrics-server). */
  usage?: 'all' | 'nodes' | 'none';
  now?: () => number;
  onHeartbeat?: (result: HeartbeatResult) => void;
  onError?: (error: Error) => void;
};

export type HeartbeatResult = {
  seq: number;
  mode: Inventory['mode'];
  latencyMs: number;
  bytesSent: number;
  reply: HeartbeatReply;
};

export type AgentStats = {
  clusterId: string | null;
  /** Heartbeats the server accepted. */
  sent: number;
  failures: number;
  consecutiveFailures: number;
  full: number;
  delta: number;
  same: number;
  resendFullRequests: number;
  bytesSent: number;
  lastLatencyMs: number | null;
  lastError: string | null;
  intervalSeconds: number;
};

/**
 * A simulated Niro agent speaking protocol v1 over HTTP: enrolls with a token, then heartbeats
 * with `full` first and `delta`/`same` after, honouring `resendFull` and the server's interval.
 */
export class SimulatedAgent {
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly rng: Rng;
  private readonly now: () => number;
  private credentials: AgentCredentials | null;
  private current: ClusterInventory;
  private currentHash: { inv: ClusterInventory; hash: string } | null = null;
  /** The inventory the server last acknowledged; deltas are built against it. */
  private acked: { inv: ClusterInventory; hash: string } | null = null;
  private events: { inv: ClusterInventory; events: KubeEvent[] } | null = null;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private running = false;
  private readonly abort = new AbortController();
  private readonly stats_: AgentStats;

  constructor(private readonly options: SimulatedAgentOptions) {
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher = options.dispatcher ?? createAgentDispatcher({ connections: 4 });
    this.rng = createRng(options.seed);
    this.now = options.now ?? Date.now;
    this.credentials = options.credentials ?? null;
    this.current = options.inventory;
    this.stats_ = {
      clusterId: this.credentials?.clusterId ?? null,
      sent: 0,
      failures: 0,
      consecutiveFailures: 0,
      full: 0,
      delta: 0,
      same: 0,
      resendFullRequests: 0,
      bytesSent: 0,
      lastLatencyMs: null,
      lastError: null,
      intervalSeconds: options.intervalSeconds ?? 15,
    };
  }

  get stats(): Readonly<AgentStats> {
    return { ...this.stats_ };
  }

  get clusterId(): string | null {
    return this.credentials?.clusterId ?? null;
  }

  /** The cluster as the agent currently sees it. */
  get inventory(): ClusterInventory {
    return this.current;
  }

  private url(path: string): string {
    return `${this.options.url.replace(/\/+$/, '')}${path}`;
  }

  /** Exchanges a single-use enrollment token for an agent key. */
  async enroll(token: string): Promise<AgentCredentials> {
    const req: EnrollRequest = {
      token,
      agent: { version: this.options.agentVersion ?? SIMULATED_AGENT_VERSION },
      cluster: {
        kubernetesVersion: inventoryKubernetesVersion(this.current),
        distribution: this.options.distribution ?? 'k3s',
        uid: this.options.clusterUid ?? randomUUID(),
      },
    };
    const res = await postJson(this.dispatcher, this.url('/api/agent/v1/enroll'), req, {
      gzip: false,
      signal: this.abort.signal,
    });
    if (!Value.Check(EnrollResponse, res.body)) {
      throw new NiroApiError(res.status, 'invalid_reply', 'the enrollment reply does not match the protocol');
    }
    this.credentials = { clusterId: res.body.clusterId, agentKey: res.body.agentKey };
    this.stats_.clusterId = res.body.clusterId;
    if (this.options.intervalSeconds === undefined) this.stats_.intervalSeconds = res.body.heartbeatIntervalSeconds;
    return this.credentials;
  }

  private hashOf(inv: ClusterInventory): string {
    if (this.currentHash?.inv !== inv) this.currentHash = { inv, hash: hashInventory(this.forWire(inv)) };
    return this.currentHash.hash;
  }

  private get capabilities(): Capabilities {
    return this.options.capabilities ?? DEFAULT_CAPABILITIES;
  }

  /** Without the pods capability the agent neither sends nor hashes pods. */
  private forWire(inv: ClusterInventory): ClusterInventory {
    return this.capabilities.pods ? inv : { ...inv, pods: [] };
  }

  private buildInventory(): Inventory {
    const hash = this.hashOf(this.current);
    const includePods = this.capabilities.pods;
    if (this.acked === null) return toFullInventory(this.current, { includePods, hash });
    if (this.acked.hash === hash) return toSameInventory(hash);
    return diffInventory(this.acked.inv, this.current, { includePods, baseHash: this.acked.hash, hash });
  }

  private warningEvents(): KubeEvent[] {
    if (this.events?.inv !== this.current) {
      this.events = {
        inv: this.current,
        events: generateWarningEvents(this.current, { now: this.now(), rng: this.rng }),
      };
    }
    return this.events.events;
  }

  /** Sends one heartbeat now (a `full` one again right away if the server asks for it). */
  async heartbeatOnce(): Promise<HeartbeatResult> {
    const first = await this.sendHeartbeat();
    if (first.reply.resendFull !== true) return first;
    return this.sendHeartbeat();
  }

  private async sendHeartbeat(): Promise<HeartbeatResult> {
    const credentials = this.credentials;
    if (credentials === null) throw new Error('the simulated agent is not enrolled');
    const inventory = this.buildInventory();
    const sentInv = this.current;
    const usageMode = this.options.usage ?? 'all';
    let usage: Heartbeat['usage'];
    if (usageMode !== 'none') {
      const u = generateUsage(sentInv, this.rng);
      usage = usageMode === 'all' && this.capabilities.pods ? u : { nodes: u.nodes };
    }
    const seq = this.seq++;
    const hb = buildHeartbeat(inventory, {
      seq,
      now: this.now(),
      agentVersion: this.options.agentVersion ?? SIMULATED_AGENT_VERSION,
      capabilities: this.capabilities,
      kubernetesVersion: inventoryKubernetesVersion(sentInv),
      distribution: this.options.distribution ?? 'k3s',
      usage,
      events: this.warningEvents(),
    });
    try {
      const res = await postJson(this.dispatcher, this.url('/api/agent/v1/heartbeat'), hb, {
        token: credentials.agentKey,
        gzip: this.options.gzip ?? true,
        signal: this.abort.signal,
      });
      if (!Value.Check(HeartbeatReply, res.body)) {
        throw new NiroApiError(res.status, 'invalid_reply', 'the heartbeat reply does not match the protocol');
      }
      const reply = res.body;
      this.stats_.sent++;
      this.stats_[inventory.mode]++;
      this.stats_.consecutiveFailures = 0;
      this.stats_.bytesSent += res.bytesSent;
      this.stats_.lastLatencyMs = res.latencyMs;
      if (this.options.intervalSeconds === undefined && reply.heartbeatIntervalSeconds > 0) {
        this.stats_.intervalSeconds = reply.heartbeatIntervalSeconds;
      }
      if (reply.resendFull === true) {
        this.stats_.resendFullRequests++;
        this.acked = null;
      } else {
        this.acked = { inv: sentInv, hash: inventory.hash };
      }
      const result: HeartbeatResult = {
        seq,
        mode: inventory.mode,
        latencyMs: res.latencyMs,
        bytesSent: res.bytesSent,
        reply,
      };
      this.options.onHeartbeat?.(result);
      return result;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.stats_.failures++;
      this.stats_.consecutiveFailures++;
      this.stats_.lastError = describeError(error);
      // The server may or may not have applied it: the next delta is built from the last
      // acknowledged state, and a wrong guess is corrected by resendFull.
      throw error;
    }
  }

  /** Heartbeats until stop(): a random first delay, then every interval (±10 %). */
  start(): void {
    if (this.running) return;
    this.running = true;
    const maxDelay = this.options.maxStartDelayMs ?? this.stats_.intervalSeconds * 1000;
    this.schedule(Math.floor(this.rng.next() * maxDelay));
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.inFlight = this.tick().finally(() => {
        this.inFlight = null;
      });
    }, delayMs);
  }

  private async tick(): Promise<void> {
    const churn = this.options.churn;
    if (this.seq > 0 && churn !== false) {
      this.current = mutateInventory(this.current, this.rng, { ...churn, now: this.now() });
    }
    try {
      await this.heartbeatOnce();
    } catch (err) {
      if (this.running) this.options.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
    const jitter = 0.9 + this.rng.next() * 0.2;
    this.schedule(Math.round(this.stats_.intervalSeconds * 1000 * jitter));
  }

  /** Stops heartbeating, waits for a heartbeat in flight, and closes an own connection pool. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.inFlight?.catch(() => undefined);
    if (this.ownsDispatcher) await this.dispatcher.close();
  }
}

/** A one-line reason for a failed request, naming connection errors plainly. */
export function describeError(err: Error): string {
  if (err instanceof NiroApiError) return `${err.message} (${err.code})`;
  const code = errorCode(err) ?? errorCode(err.cause);
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection reset';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timed out';
  if (code === 'UND_ERR_ABORTED' || err.name === 'AbortError') return 'aborted';
  return err.message;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}
