/**
 * Simulated agents for the incident detection benchmark (bench/incidents.bench.ts), in a worker
 * thread so that building and sending heartbeats does not share the server's event loop. Each
 * agent owns a small k3s inventory from @niro/testkit and heartbeats like the simulator does: a
 * `full` inventory first (after a random delay within one interval), then `delta` or `same`
 * every interval ±10 %, gzipped, over keep-alive connections.
 *
 * The bench tells agents to change their cluster: a pod in CrashLoopBackOff, a node not ready, a
 * new pod that cannot pull its image, or (the control) a Deployment pod replaced by a healthy one.
 * A condition is carried for a given number of heartbeats, then healed; the agent reports the
 * send and reply times of the first heartbeat that carried the change and of the two clean
 * heartbeats after healing. Times are process.hrtime in ms, which every thread of the process
 * shares.
 */
import { gzipSync } from 'node:zlib';
import { parentPort } from 'node:worker_threads';
import type { Heartbeat, Inventory, KubeEvent, Node, Pod } from '@niro/protocol';
import {
  buildHeartbeat,
  createAgentDispatcher,
  createRng,
  diffInventory,
  generateClusterInventory,
  generateUsage,
  generateWarningEvents,
  hashInventory,
  inventoryKubernetesVersion,
  toFullInventory,
  toSameInventory,
  type ClusterInventory,
  type Rng,
} from '@niro/testkit';
import { request, type Dispatcher } from 'undici';

export type Condition = 'crashloop' | 'node' | 'pull';
export type Change = Condition | 'control';

export type FleetAgent = { clusterId: string; agentKey: string };
export type ChangeOrder = {
  clusterId: string;
  change: Change;
  /** Heartbeats that carry the condition before the agent heals it (ignored for the control). */
  heartbeats: number;
};

export type ToFleet =
  | {
      kind: 'start';
      url: string;
      agents: FleetAgent[];
      nodes: number;
      pods: number;
      intervalMs: number;
      seed: string;
    }
  | { kind: 'inject'; wave: number; orders: ChangeOrder[] }
  | { kind: 'stop' };

export type Timed = { sentAt: number; repliedAt: number };
export type FleetStats = {
  /** Round trips (ms) by kind: `same`/`delta`/`full` plain heartbeats, `condition`, `control`, `clean`. */
  rtt: Record<string, number[]>;
  /** Heartbeats whose round trip took longer than SLOW_MS: when they were sent, and what they were. */
  slow: { sentAt: number; rtt: number; kind: string }[];
  sent: number;
  failures: number;
  resendFull: number;
  lastError: string | null;
};

export type FromFleet =
  | { kind: 'ready'; at: number }
  | { kind: 'injected'; wave: number; scopes: { clusterId: string; change: Change; scope: string }[] }
  | ({ kind: 'carried'; clusterId: string; change: Change; wave: number } & Timed)
  | { kind: 'clean'; clusterId: string; wave: number; sends: Timed[] }
  | { kind: 'stopped'; stats: FleetStats }
  | { kind: 'error'; message: string };

const SLOW_MS = 500;
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

type Pending = {
  wave: number;
  change: Change;
  /** The inventory the change sends; a heartbeat of it (or a later one) carries the change. */
  inv: ClusterInventory;
  healed: ClusterInventory;
  carriesLeft: number;
  carried: boolean;
  cleanSends: Timed[] | null;
};

class BenchAgent {
  private acked: { inv: ClusterInventory; hash: string } | null = null;
  private hashed: { inv: ClusterInventory; hash: string } | null = null;
  private events: { inv: ClusterInventory; events: KubeEvent[] } | null = null;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private running = false;
  current: ClusterInventory;
  pending: Pending | null = null;
  firstAccepted = false;

  constructor(
    readonly fleet: Fleet,
    readonly agent: FleetAgent,
    inventory: ClusterInventory,
    readonly rng: Rng,
  ) {
    this.current = inventory;
  }

  start(firstDelayMs: number): void {
    this.running = true;
    this.schedule(firstDelayMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.inFlight;
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
    try {
      let result = await this.send();
      if (result.resendFull) result = await this.send();
    } catch (err) {
      this.fleet.stats.failures++;
      this.fleet.stats.lastError = err instanceof Error ? err.message : String(err);
    }
    this.schedule(Math.round(this.fleet.intervalMs * (0.9 + this.rng.next() * 0.2)));
  }

  private hashOf(inv: ClusterInventory): string {
    if (this.hashed?.inv !== inv) this.hashed = { inv, hash: hashInventory(inv) };
    return this.hashed.hash;
  }

  private warningEvents(inv: ClusterInventory): KubeEvent[] {
    if (this.events?.inv !== inv) this.events = { inv, events: generateWarningEvents(inv, { now: Date.now() }) };
    return this.events.events;
  }

  private async send(): Promise<{ resendFull: boolean }> {
    const inv = this.current;
    const hash = this.hashOf(inv);
    const inventory: Inventory =
      this.acked === null
        ? toFullInventory(inv, { hash })
        : this.acked.hash === hash
          ? toSameInventory(hash)
          : diffInventory(this.acked.inv, inv, { baseHash: this.acked.hash, hash });
    const hb: Heartbeat = buildHeartbeat(inventory, {
      seq: this.seq++,
      kubernetesVersion: inventoryKubernetesVersion(inv),
      usage: generateUsage(inv, this.rng),
      events: this.warningEvents(inv),
    });
    const body = gzipSync(JSON.stringify(hb));
    const sentAt = nowMs();
    const res = await request(this.fleet.heartbeatUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        authorization: `Bearer ${this.agent.agentKey}`,
      },
      body,
      dispatcher: this.fleet.dispatcher,
    });
    const text = await res.body.text();
    const repliedAt = nowMs();
    if (res.statusCode !== 200) throw new Error(`heartbeat: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
    const reply: unknown = JSON.parse(text);
    if (typeof reply !== 'object' || reply === null || !('ack' in reply) || reply.ack !== hb.seq) {
      throw new Error(`heartbeat: unexpected reply ${text.slice(0, 200)}`);
    }
    this.fleet.stats.sent++;
    if ('resendFull' in reply && reply.resendFull === true) {
      this.fleet.stats.resendFull++;
      this.acked = null;
      return { resendFull: true };
    }
    this.acked = { inv, hash };
    this.afterReply(inventory.mode, inv, { sentAt, repliedAt });
    return { resendFull: false };
  }

  private afterReply(mode: Inventory['mode'], inv: ClusterInventory, t: Timed): void {
    if (!this.firstAccepted) {
      this.firstAccepted = true;
      this.fleet.firstAccepted();
    }
    const p = this.pending;
    if (p === null) {
      this.fleet.record(mode, t);
      return;
    }
    if (!p.carried) {
      if (inv !== p.inv) {
        this.fleet.record(mode, t);
        return;
      }
      p.carried = true;
      this.fleet.record(p.change === 'control' ? 'control' : 'condition', t);
      this.fleet.post({ kind: 'carried', clusterId: this.agent.clusterId, change: p.change, wave: p.wave, ...t });
      if (p.change === 'control') {
        this.pending = null;
        return;
      }
    } else if (p.cleanSends === null) {
      this.fleet.record(mode, t);
    }
    if (p.cleanSends === null) {
      if (--p.carriesLeft <= 0) {
        // Healed: the next heartbeats no longer show the condition.
        this.current = p.healed;
        p.cleanSends = [];
      }
      return;
    }
    if (inv !== p.healed) return;
    this.fleet.record('clean', t);
    p.cleanSends.push(t);
    if (p.cleanSends.length === 2) {
      this.fleet.post({ kind: 'clean', clusterId: this.agent.clusterId, wave: p.wave, sends: p.cleanSends });
      this.pending = null;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Conditions

const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const randomName = (rng: Rng, n: number): string => rng.string(n, NAME_ALPHABET);

/** Running pods of Deployments, applications first (kube-system only when there is nothing else). */
function deploymentPods(inv: ClusterInventory): Pod[] {
  const ok = (p: Pod): boolean =>
    p.phase === 'Running' && p.owner?.kind === 'Deployment' && p.containers[0]?.state === 'running';
  const apps = inv.pods.filter((p) => ok(p) && p.namespace !== 'kube-system');
  return apps.length > 0 ? apps : inv.pods.filter(ok);
}

/** A Deployment's pod scope as the detector keys it: "ns/Deployment/name". */
const scopeOf = (pod: Pod): string => `${pod.namespace}/${pod.owner?.kind ?? 'Pod'}/${pod.owner?.name ?? pod.name}`;

function replacePod(inv: ClusterInventory, before: Pod, after: Pod | null, extra: Pod | null = null): ClusterInventory {
  const pods = inv.pods.flatMap((p) => (p === before ? (after === null ? [] : [after]) : [p]));
  if (extra !== null) pods.push(extra);
  return { ...inv, pods };
}

type Changed = { inv: ClusterInventory; healed: ClusterInventory; scope: string };

function applyChange(base: ClusterInventory, change: Change, rng: Rng): Changed {
  if (change === 'node') {
    const node = base.nodes.find((n) => n.roles.length === 0) ?? base.nodes[0];
    if (node === undefined) throw new Error('a cluster without nodes');
    const down: Node = {
      ...node,
      ready: false,
      conditions: [
        {
          type: 'Ready',
          status: 'Unknown',
          reason: 'NodeStatusUnknown',
          message: 'Kubelet stopped posting node status.',
        },
      ],
    };
    return { inv: { ...base, nodes: base.nodes.map((n) => (n === node ? down : n)) }, healed: base, scope: node.name };
  }
  const candidates = deploymentPods(base);
  const pod = candidates[rng.int(0, candidates.length - 1)];
  if (pod === undefined) throw new Error('a cluster without Deployment pods');
  const [first, ...rest] = pod.containers;
  if (first === undefined) throw new Error('a pod without containers');
  if (change === 'crashloop') {
    // One more restart, then back-off; healing keeps the restart count (it never goes down).
    const restarts = first.restarts + 1;
    const crashing: Pod = {
      ...pod,
      containers: [
        {
          ...first,
          ready: false,
          state: 'waiting',
          reason: 'CrashLoopBackOff',
          restarts,
          lastTerminationReason: 'Error',
        },
        ...rest,
      ],
    };
    const { reason: _reason, ...running } = first;
    const healedPod: Pod = {
      ...pod,
      containers: [{ ...running, ready: true, state: 'running', restarts, lastTerminationReason: 'Error' }, ...rest],
    };
    return { inv: replacePod(base, pod, crashing), healed: replacePod(base, pod, healedPod), scope: scopeOf(pod) };
  }
  const template = /^(.*)-[a-z0-9]+-[a-z0-9]{5}$/.exec(pod.name)?.[1] ?? pod.owner?.name ?? pod.name;
  const fresh = (suffix: string): Pod => ({
    ...pod,
    name: `${template}-${suffix}-${randomName(rng, 5)}`,
    uid: rng.uuid(),
    startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    containers: pod.containers.map(({ lastTerminationReason: _last, ...c }) => ({ ...c, restarts: 0 })),
  });
  if (change === 'control') {
    // A rollout step that goes well: one pod replaced by a new, healthy one.
    const inv = replacePod(base, pod, fresh(randomName(rng, 9)));
    return { inv, healed: inv, scope: '' };
  }
  // A rollout to an image that does not exist: the new pod waits in ImagePullBackOff.
  const broken = fresh(randomName(rng, 9));
  const [c0, ...others] = broken.containers;
  if (c0 === undefined) throw new Error('a pod without containers');
  const image = `${c0.image.replace(/[:@].*$/, '')}:9.9.9-does-not-exist`;
  const { startedAt: _started, ...unstarted } = broken;
  const pulling: Pod = {
    ...unstarted,
    phase: 'Pending',
    containers: [{ ...c0, image, ready: false, state: 'waiting', reason: 'ImagePullBackOff' }, ...others],
  };
  return { inv: replacePod(base, pod, pod, pulling), healed: base, scope: scopeOf(pod) };
}

// ---------------------------------------------------------------------------------------------
// The fleet

class Fleet {
  readonly stats: FleetStats = { rtt: {}, slow: [], sent: 0, failures: 0, resendFull: 0, lastError: null };
  readonly agents = new Map<string, BenchAgent>();
  readonly dispatcher: Dispatcher = createAgentDispatcher({ connections: 256 });
  private accepted = 0;

  constructor(
    readonly heartbeatUrl: string,
    readonly intervalMs: number,
    private readonly out: (msg: FromFleet) => void,
  ) {}

  record(kind: string, t: Timed): void {
    const rtt = t.repliedAt - t.sentAt;
    (this.stats.rtt[kind] ??= []).push(rtt);
    if (rtt > SLOW_MS) this.stats.slow.push({ sentAt: t.sentAt, rtt, kind });
  }

  post(msg: FromFleet): void {
    this.out(msg);
  }

  firstAccepted(): void {
    if (++this.accepted !== this.agents.size) return;
    // Baselines count from here: before, first heartbeats (full inventories) crowd the server.
    delete this.stats.rtt.same;
    delete this.stats.rtt.delta;
    this.out({ kind: 'ready', at: nowMs() });
  }

  inject(wave: number, orders: ChangeOrder[]): void {
    const scopes: { clusterId: string; change: Change; scope: string }[] = [];
    for (const order of orders) {
      const agent = this.agents.get(order.clusterId);
      if (agent === undefined) throw new Error(`no agent for cluster ${order.clusterId}`);
      if (agent.pending !== null) throw new Error(`cluster ${order.clusterId} is still changing`);
      const changed = applyChange(agent.current, order.change, agent.rng);
      agent.current = changed.inv;
      agent.pending = {
        wave,
        change: order.change,
        inv: changed.inv,
        healed: changed.healed,
        carriesLeft: order.heartbeats,
        carried: false,
        cleanSends: null,
      };
      scopes.push({ clusterId: order.clusterId, change: order.change, scope: changed.scope });
    }
    this.out({ kind: 'injected', wave, scopes });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.stop()));
    await this.dispatcher.close();
  }
}

const port = parentPort;
if (port === null) throw new Error('incidents-fleet runs as a worker thread');
let fleet: Fleet | null = null;
const send = (msg: FromFleet): void => port.postMessage(msg);

port.on('message', (msg: ToFleet) => {
  try {
    if (msg.kind === 'start') {
      const f = new Fleet(`${msg.url}/api/agent/v1/heartbeat`, msg.intervalMs, send);
      fleet = f;
      msg.agents.forEach((a, i) => {
        const seed = `${msg.seed}-${i}`;
        const inventory = generateClusterInventory({ nodes: msg.nodes, pods: msg.pods, seed });
        f.agents.set(a.clusterId, new BenchAgent(f, a, inventory, createRng(seed)));
      });
      // Spread over one interval, as a fleet that has been running for a while is.
      for (const agent of f.agents.values()) agent.start(Math.floor(agent.rng.next() * msg.intervalMs));
    } else if (msg.kind === 'inject') {
      if (fleet === null) throw new Error('inject before start');
      fleet.inject(msg.wave, msg.orders);
    } else {
      const f = fleet;
      void (f === null ? Promise.resolve() : f.stop()).then(() =>
        send({
          kind: 'stopped',
          stats: f?.stats ?? { rtt: {}, slow: [], sent: 0, failures: 0, resendFull: 0, lastError: null },
        }),
      );
    }
  } catch (err) {
    send({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
});
