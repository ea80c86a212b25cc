import type { Capabilities, Heartbeat, HeartbeatReply } from '@niro/protocol';
import type { Logger } from './logger.js';
import { fullJitterDelay, sleep, StateLog } from './backoff.js';
import { detectCapabilities } from './capabilities.js';
import { LongPollChannel, type ExecuteCommand } from './channel/long-poll-channel.js';
import { WebSocketChannel } from './channel/websocket-channel.js';
import { executeCommand } from './commands/executor.js';
import { Discovery } from './commands/discovery.js';
import { CommandLedger } from './commands/ledger.js';
import { readClusterIdentity, type ClusterIdentity } from './cluster-identity.js';
import type { AgentConfig } from './config.js';
import { ClusterWatch } from './inventory/cluster-watch.js';
import { KeyStore, tokenDigest, type StoredKey } from './key-store.js';
import { KubeApiError } from './kube/kube-errors.js';
import { LogStreams } from './logs/log-streams.js';
import type { KubeApi } from './kube/types.js';
import { NiroCallError, NiroClient } from './niro-client.js';
import { metricsAbsent, readNodeUsage, readPodUsage } from './usage.js';
import { AGENT_VERSION } from './version.js';

/** Exit codes of `niro-agent` (the pod's restart count and last state show them). */
export const EXIT = { ok: 0, enrollmentRefused: 1, misconfigured: 2 } as const;

export type AgentOptions = {
  config: AgentConfig;
  api: KubeApi;
  logger: Logger;
  random?: () => number;
  now?: () => number;
};

export type AgentStats = {
  heartbeats: number;
  failures: number;
  modes: { full: number; delta: number; same: number };
  /** Bytes on the wire (gzip) and before compression, of the last heartbeat. */
  lastBytes: number;
  lastRawBytes: number;
  bytesTotal: number;
  capabilities: Capabilities | null;
  clusterId: string | null;
};

const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 60_000;
const MAX_EVENTS = 100;
const SYNC_TIMEOUT_MS = 60_000;
const VERSION_REFRESH_MS = 10 * 60_000;
const METRICS_RETRY_MS = 60_000;

class FatalAgentError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The agent's life: learn the cluster's identity, obtain a key (stored one, or enroll with the
 * token), watch the cluster, heartbeat until stopped. Failures of Niro or of the API server never
 * end it; only a refused enrollment or missing permissions do, with one clear log line.
 */
export class Agent {
  readonly stats: AgentStats = {
    heartbeats: 0,
    failures: 0,
    modes: { full: 0, delta: 0, same: 0 },
    lastBytes: 0,
    lastRawBytes: 0,
    bytesTotal: 0,
    capabilities: null,
    clusterId: null,
  };
  private readonly niro: NiroClient;
  private readonly keys: KeyStore;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly niroState: StateLog;
  private readonly kubeState: StateLog;
  private readonly abort = new AbortController();
  private watch: ClusterWatch | null = null;
  private seq = 0;
  private intervalMs = 15_000;
  private lastPodUsageAt = Number.NEGATIVE_INFINITY;
  private metricsCheckedAt = Number.NEGATIVE_INFINITY;
  private metricsAvailable = true;
  private identityReadAt = 0;
  private announcedVersion: string | undefined;

  constructor(private readonly options: AgentOptions) {
    this.log = options.logger;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.niro = new NiroClient({
      url: options.config.niroUrl,
      userAgent: `niro-agent/${AGENT_VERSION}`,
      timeoutMs: options.config.requestTimeoutMs,
    });
    this.keys = new KeyStore(options.api, options.config.namespace);
    this.niroState = new StateLog(this.log, 'Niro', this.now);
    this.kubeState = new StateLog(this.log, 'Kubernetes API', this.now);
  }

  /** Runs until `stop()`; resolves with the process exit code. */
  async run(): Promise<number> {
    try {
      let identity = await this.retry('reading the cluster identity', () => readClusterIdentity(this.options.api));
      if (identity === null) return EXIT.ok;
      const key = await this.obtainKey(identity);
      if (key === null) return EXIT.ok;
      this.stats.clusterId = key.clusterId;
      this.identityReadAt = this.now();
      this.log.info(
        {
          clusterId: key.clusterId,
          kubernetesVersion: identity.kubernetesVersion,
          distribution: identity.distribution,
        },
        'agent started',
      );

      const watch = new ClusterWatch(this.options.api, this.log);
      this.watch = watch;
      await watch.start(SYNC_TIMEOUT_MS / 4);
      let caps = await this.capabilities(null);
      await watch.setPodsEnabled(caps.pods);
      if (!(await watch.waitForSync(SYNC_TIMEOUT_MS))) {
        this.log.warn({ failing: watch.failingWatches() }, 'not every watch has synced yet; sending what is known');
      }

      const channel = this.startCommandChannel(key);
      let attempt = 0;
      while (!this.abort.signal.aborted) {
        caps = await this.capabilities(caps);
        await watch.setPodsEnabled(caps.pods);
        identity = await this.refreshIdentity(identity);
        const outcome = await this.heartbeatOnce(key, identity, caps, watch);
        let delay: number;
        if (outcome === 'sent') {
          attempt = 0;
          delay = this.intervalMs;
        } else if (outcome === 'resend') {
          attempt = 0;
          delay = 0;
        } else if (outcome === 'key_rejected') {
          delay = RETRY_CAP_MS;
        } else {
          delay = this.backoff(attempt);
          attempt += 1;
          this.log.debug({ attempt, delayMs: delay }, 'heartbeat retry scheduled');
        }
        await sleep(delay, this.abort.signal);
      }
      await channel;
      return EXIT.ok;
    } catch (err) {
      if (err instanceof FatalAgentError) {
        this.log.error(err.message);
        return err.exitCode;
      }
      throw err;
    } finally {
      await this.watch?.stop();
      this.niro.close();
    }
  }

  stop(): void {
    this.abort.abort();
    // Cuts a waiting long-poll short, so stopping never waits for its 30 s.
    this.niro.close();
  }

  /**
   * Commands arrive over the WebSocket channel, or over long-poll where the upgrade is refused
   * or keeps failing, while heartbeats go on; each runs with the capabilities detected last, so
   * a revoked permission refuses the next command.
   */
  private startCommandChannel(key: StoredKey): Promise<void> {
    const ledger = new CommandLedger();
    const discovery = new Discovery(this.options.api);
    const none: Capabilities = { pods: false, logs: false, apply: false, selfUpdate: false };
    const logStreams = new LogStreams({ api: this.options.api, logger: this.log });
    this.abort.signal.addEventListener('abort', () => logStreams.stopAll(), { once: true });
    const execute: ExecuteCommand = (command) =>
      executeCommand(command, {
        api: this.options.api,
        capabilities: this.stats.capabilities ?? none,
        logger: this.log,
        namespace: this.options.config.namespace,
        ledger,
        discovery,
        handlers: logStreams.handlers,
      });
    const run = async (): Promise<void> => {
      if (this.options.config.commandChannel === 'auto' && (await this.runWebSocket(key, execute, logStreams))) return;
      this.log.info({ transport: 'long-poll' }, 'command channel: using long-poll');
      await new LongPollChannel({
        niro: this.niro,
        agentKey: key.agentKey,
        logger: this.log,
        random: this.random,
        execute,
        logStreams,
      }).run(this.abort.signal);
    };
    return run().catch((err: unknown) => {
      this.log.error({ err: errorText(err) }, 'the command channel stopped');
    });
  }

  /** True when it ran until stopped; false when WebSocket is not usable here and long-poll should take over. */
  private async runWebSocket(key: StoredKey, execute: ExecuteCommand, logStreams: LogStreams): Promise<boolean> {
    const websocket = new WebSocketChannel({
      url: this.options.config.niroUrl,
      agentKey: key.agentKey,
      userAgent: `niro-agent/${AGENT_VERSION}`,
      version: AGENT_VERSION,
      execute,
      logger: this.log,
      random: this.random,
      logStreams,
    });
    const outcome = await websocket.run(this.abort.signal, () =>
      this.log.info({ transport: 'websocket' }, 'command channel: using WebSocket'),
    );
    return outcome === 'stopped';
  }

  /** 1 s at least, then up to 2 s, 4 s, … 60 s, uniformly jittered. */
  private backoff(attempt: number): number {
    return Math.max(RETRY_BASE_MS, fullJitterDelay(attempt, RETRY_BASE_MS * 2, RETRY_CAP_MS, this.random));
  }

  private async heartbeatOnce(
    key: StoredKey,
    identity: ClusterIdentity,
    caps: Capabilities,
    watch: ClusterWatch,
  ): Promise<'sent' | 'resend' | 'failed' | 'key_rejected'> {
    const now = this.now();
    const prepared = watch.tracker.prepare();
    const usage = await this.usage(now, caps);
    const hb: Heartbeat = {
      seq: ++this.seq,
      sentAt: new Date(now).toISOString(),
      agent: { version: AGENT_VERSION, capabilities: caps },
      cluster: { kubernetesVersion: identity.kubernetesVersion, distribution: identity.distribution },
      inventory: prepared.inventory,
      events: watch.recentEvents(now, this.options.config.eventWindowMs, MAX_EVENTS),
    };
    if (usage !== undefined) hb.usage = usage;
    let reply: HeartbeatReply;
    try {
      const sent = await this.niro.heartbeat(key.agentKey, hb);
      reply = sent.reply;
      this.stats.lastBytes = sent.bytes;
      this.stats.lastRawBytes = sent.rawBytes;
      this.stats.bytesTotal += sent.bytes;
      this.log.debug(
        { seq: hb.seq, mode: hb.inventory.mode, bytes: sent.bytes, rawBytes: sent.rawBytes, ...watch.tracker.size },
        'heartbeat sent',
      );
    } catch (err) {
      prepared.abort();
      this.stats.failures += 1;
      if (!(err instanceof NiroCallError)) throw err;
      if (err.status === 401) {
        this.niroState.failed(
          'key_rejected',
          'the agent key was refused: this cluster was deleted or re-enrolled in Niro. Run the install command ' +
            'from the cluster page again (it carries a new token); retrying every minute meanwhile',
          { status: err.status, code: err.code },
        );
        return 'key_rejected';
      }
      this.niroState.failed(err.state, `heartbeats fail (${err.message}); retrying with backoff`, {
        url: this.options.config.niroUrl,
      });
      return 'failed';
    }
    prepared.commit();
    if (usage?.pods !== undefined) this.lastPodUsageAt = now;
    this.stats.heartbeats += 1;
    this.stats.modes[hb.inventory.mode] += 1;
    this.niroState.ok('heartbeats get through again');
    this.intervalMs = Math.min(300, Math.max(1, reply.heartbeatIntervalSeconds)) * 1000;
    if (reply.desiredAgentVersion !== undefined && reply.desiredAgentVersion !== this.announcedVersion) {
      this.announcedVersion = reply.desiredAgentVersion;
      if (reply.desiredAgentVersion !== AGENT_VERSION) {
        this.log.info(
          { running: AGENT_VERSION, desired: reply.desiredAgentVersion },
          'Niro wants another agent version',
        );
      }
    }
    if (reply.resendFull === true) {
      watch.tracker.forgetServerState();
      return 'resend';
    }
    return 'sent';
  }

  private async usage(now: number, caps: Capabilities): Promise<Heartbeat['usage']> {
    if (!this.metricsAvailable && now - this.metricsCheckedAt < METRICS_RETRY_MS) return undefined;
    this.metricsCheckedAt = now;
    const api = this.options.api;
    try {
      const usage: NonNullable<Heartbeat['usage']> = { nodes: await readNodeUsage(api) };
      if (caps.pods && now - this.lastPodUsageAt >= this.options.config.podUsageIntervalMs) {
        usage.pods = await readPodUsage(api);
      }
      if (!this.metricsAvailable) this.log.info('metrics.k8s.io answers again: usage is reported');
      this.metricsAvailable = true;
      return usage;
    } catch (err) {
      if (metricsAbsent(err)) {
        if (this.metricsAvailable) {
          this.log.info(
            { status: err instanceof KubeApiError ? err.status : undefined },
            'metrics.k8s.io is not available (no metrics-server?): heartbeats carry no usage',
          );
        }
        this.metricsAvailable = false;
        return undefined;
      }
      this.kubeState.failed('metrics', `reading usage failed: ${errorText(err)}`);
      return undefined;
    }
  }

  private async capabilities(previous: Capabilities | null): Promise<Capabilities> {
    let caps: Capabilities;
    try {
      caps = await detectCapabilities(this.options.api);
      this.kubeState.ok('answers again');
    } catch (err) {
      this.kubeState.failed('unreachable', `checking permissions failed: ${errorText(err)}`);
      return previous ?? { pods: false, logs: false, apply: false, selfUpdate: false };
    }
    const changed = previous === null || Object.entries(caps).some(([k, v]) => previous[k as keyof Capabilities] !== v);
    if (changed) this.log.info({ capabilities: caps }, previous === null ? 'capabilities' : 'capabilities changed');
    this.stats.capabilities = caps;
    return caps;
  }

  private async refreshIdentity(identity: ClusterIdentity): Promise<ClusterIdentity> {
    if (this.now() - this.identityReadAt < VERSION_REFRESH_MS) return identity;
    this.identityReadAt = this.now();
    try {
      return await readClusterIdentity(this.options.api);
    } catch {
      return identity;
    }
  }

  /** The stored key, or a new one from enrolling with NIRO_TOKEN. Null when stopped meanwhile. */
  private async obtainKey(identity: ClusterIdentity): Promise<StoredKey | null> {
    const { config } = this.options;
    const stored = await this.retry(`reading Secret ${this.keys.location}`, () => this.keys.read());
    if (this.abort.signal.aborted) return null;
    const token = config.token;
    if (token === undefined || (stored !== null && stored.tokenDigest === tokenDigest(token))) {
      if (stored !== null) return stored;
      throw new FatalAgentError(
        EXIT.misconfigured,
        `no agent key in Secret ${this.keys.location} and no NIRO_TOKEN: run the install command from Niro ` +
          '(Add cluster) to give this agent an enrollment token',
      );
    }
    let enrolled;
    try {
      enrolled = await this.retryNiro(() =>
        this.niro.enroll({
          token,
          agent: { version: AGENT_VERSION },
          cluster: {
            kubernetesVersion: identity.kubernetesVersion,
            distribution: identity.distribution,
            uid: identity.uid,
          },
        }),
      );
    } catch (err) {
      if (err instanceof NiroCallError && err.kind === 'http' && err.status !== undefined && err.status < 500) {
        if (stored !== null) {
          this.log.warn(
            { code: err.code },
            'NIRO_TOKEN was refused (used or expired); continuing with the key stored earlier',
          );
          return stored;
        }
        throw new FatalAgentError(
          EXIT.enrollmentRefused,
          `enrollment refused by ${config.niroUrl}: ${err.message}. The token is single-use and valid for 1 hour; ` +
            'issue a new one in Niro (cluster settings → new enrollment token) and re-run the install command',
        );
      }
      throw err;
    }
    if (enrolled === null) return null;
    const key: StoredKey = {
      agentKey: enrolled.agentKey,
      clusterId: enrolled.clusterId,
      niroUrl: config.niroUrl,
      tokenDigest: tokenDigest(token),
    };
    await this.retry(`storing the key in Secret ${this.keys.location}`, () => this.keys.write(key));
    this.intervalMs = enrolled.heartbeatIntervalSeconds * 1000;
    this.log.info({ clusterId: key.clusterId, secret: this.keys.location }, 'enrolled; key stored');
    try {
      await this.keys.deleteToken();
    } catch (err) {
      this.log.debug({ err: errorText(err) }, 'could not delete the used enrollment token Secret');
    }
    return key;
  }

  /** Retries a Kubernetes call through outages; permission errors are fatal (the RBAC is wrong). */
  private retry<T>(what: string, fn: () => Promise<T>): Promise<T | null> {
    return this.retryLoop(fn, this.kubeState, (err) => {
      if (err instanceof KubeApiError && (err.status === 401 || err.status === 403)) {
        throw new FatalAgentError(
          EXIT.misconfigured,
          `${what} was refused by the Kubernetes API (${err.status}: ${err.message}); re-run the install command so ` +
            'the agent gets its ServiceAccount and RBAC',
        );
      }
      return { state: 'unreachable', message: `${what} failed: ${errorText(err)}; retrying with backoff` };
    });
  }

  /** Retries a call to Niro while it is unreachable or failing (5xx); a 4xx answer is final. */
  private retryNiro<T>(fn: () => Promise<T>): Promise<T | null> {
    return this.retryLoop(fn, this.niroState, (err) => {
      if (!(err instanceof NiroCallError)) throw err;
      if (err.kind === 'http' && err.status !== undefined && err.status < 500) throw err;
      return { state: err.state, message: `enrollment failed (${err.message}); retrying with backoff` };
    });
  }

  /**
   * Calls `fn` until it succeeds or the agent stops (null), with capped, jittered backoff.
   * `classify` throws for a final failure, or names the state to log once.
   */
  private async retryLoop<T>(
    fn: () => Promise<T>,
    states: StateLog,
    classify: (err: unknown) => { state: string; message: string },
  ): Promise<T | null> {
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      try {
        const value = await fn();
        states.ok('answers again');
        return value;
      } catch (err) {
        const { state, message } = classify(err);
        states.failed(state, message);
        await sleep(this.backoff(attempt), this.abort.signal);
      }
    }
    return null;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
