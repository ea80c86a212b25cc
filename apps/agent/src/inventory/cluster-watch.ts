import type { KubeEvent, Workload } from '@niro/protocol';
import type { Logger } from '../logger.js';
import { Reflector } from '../kube/reflector.js';
import type { KubeApi } from '../kube/types.js';
import {
  resolveOwner,
  toEventRecord,
  toNode,
  toOwnerLink,
  toPodRecord,
  toWorkload,
  type EventRecord,
  type PodRecord,
} from './convert.js';
import { InventoryTracker } from './inventory-tracker.js';

type OwnerLink = { kind: string; name: string } | null;

/**
 * Small list pages: a page of API objects (with their managedFields) is the agent's largest
 * transient allocation, and its memory peak at start-up is what an OOM limit has to allow for.
 */
const PAGE_SIZE = 100;

const WORKLOADS: { kind: Workload['kind']; path: string }[] = [
  { kind: 'Deployment', path: '/apis/apps/v1/deployments' },
  { kind: 'StatefulSet', path: '/apis/apps/v1/statefulsets' },
  { kind: 'DaemonSet', path: '/apis/apps/v1/daemonsets' },
];

/**
 * Watches the cluster (list once, then watch) and keeps the inventory tracker current, so a
 * heartbeat never lists anything. Pods are watched only while the `pods` capability is on.
 */
export class ClusterWatch {
  readonly tracker = new InventoryTracker();
  private readonly always: Reflector<unknown>[] = [];
  private readonly replicaSets: Reflector<OwnerLink>;
  private readonly jobs: Reflector<OwnerLink>;
  private readonly events: Reflector<EventRecord>;
  private pods: Reflector<PodRecord> | null = null;
  /** "ReplicaSet/ns/name" or "Job/ns/name" → keys of the pods it controls, to re-resolve owners. */
  private readonly podsByController = new Map<string, Set<string>>();
  private readonly controllerOfPod = new Map<string, string>();

  constructor(
    private readonly api: KubeApi,
    private readonly logger: Logger,
  ) {
    const nodes = new Reflector({
      api,
      logger,
      pageSize: PAGE_SIZE,
      path: '/api/v1/nodes',
      convert: toNode,
      onChange: (key, node) => this.tracker.set('nodes', key, node),
    });
    const workloads = WORKLOADS.map(
      ({ kind, path }) =>
        new Reflector({
          api,
          logger,
          pageSize: PAGE_SIZE,
          path,
          convert: (raw) => toWorkload(kind, raw),
          onChange: (key, w) => this.tracker.set('workloads', key, w),
        }),
    );
    this.replicaSets = new Reflector({
      api,
      logger,
      pageSize: PAGE_SIZE,
      path: '/apis/apps/v1/replicasets',
      convert: toOwnerLink,
      onChange: (key) => this.reresolve(`ReplicaSet/${key}`),
    });
    this.jobs = new Reflector({
      api,
      logger,
      pageSize: PAGE_SIZE,
      path: '/apis/batch/v1/jobs',
      convert: toOwnerLink,
      onChange: (key) => this.reresolve(`Job/${key}`),
    });
    this.events = new Reflector({
      api,
      logger,
      pageSize: PAGE_SIZE,
      path: '/api/v1/events',
      fieldSelector: 'type=Warning',
      convert: toEventRecord,
    });
    this.always.push(nodes, ...workloads, this.replicaSets, this.jobs, this.events);
  }

  /**
   * Starts the watches one after the other, each after the previous one's first list (or after
   * `perWatchTimeoutMs`), so their initial lists do not all sit in memory at once.
   */
  async start(perWatchTimeoutMs: number): Promise<void> {
    for (const r of this.always) {
      r.start();
      await withTimeout(r.synced(), perWatchTimeoutMs);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.always, ...(this.pods === null ? [] : [this.pods])].map((r) => r.stop()));
    this.pods = null;
  }

  get podsWatched(): boolean {
    return this.pods !== null;
  }

  /** Follows the `pods` capability: watch pods while it is on, forget them when it goes off. */
  async setPodsEnabled(on: boolean): Promise<void> {
    if (on && this.pods === null) {
      this.tracker.setPodsIncluded(true);
      const pods: Reflector<PodRecord> = new Reflector({
        api: this.api,
        logger: this.logger,
        pageSize: PAGE_SIZE,
        path: '/api/v1/pods',
        convert: toPodRecord,
        // A stopped watch may still deliver a last event; it must not bring pods back.
        onChange: (key, record) => {
          if (this.pods === pods) this.podChanged(key, record);
        },
      });
      this.pods = pods;
      pods.start();
    } else if (!on && this.pods !== null) {
      const pods = this.pods;
      this.pods = null;
      await pods.stop();
      this.podsByController.clear();
      this.controllerOfPod.clear();
      this.tracker.setPodsIncluded(false);
    }
  }

  /** Waits until every running watch has its first complete list, or the time is up. */
  async waitForSync(timeoutMs: number): Promise<boolean> {
    const all = [...this.always, ...(this.pods === null ? [] : [this.pods])];
    return withTimeout(Promise.all(all.map((r) => r.synced())), timeoutMs);
  }

  /** Errors of the watches that are failing right now (e.g. 403 after RBAC was revoked). */
  failingWatches(): string[] {
    const all = [...this.always, ...(this.pods === null ? [] : [this.pods])];
    return all.filter((r) => r.lastError !== null).map((r) => r.path);
  }

  /** Warning events seen within `windowMs`, newest first, at most `max`. */
  recentEvents(now: number, windowMs: number, max: number): KubeEvent[] {
    const since = now - windowMs;
    const recent: EventRecord[] = [];
    for (const e of this.events.store.values()) if (e.at >= since) recent.push(e);
    recent.sort((a, b) => b.at - a.at);
    return recent.slice(0, max).map((e) => e.event);
  }

  private podChanged(key: string, record: PodRecord | undefined): void {
    const previous = this.controllerOfPod.get(key);
    const ref = record?.ownerRef;
    const controller =
      record !== undefined && ref !== undefined && (ref.kind === 'ReplicaSet' || ref.kind === 'Job')
        ? `${ref.kind}/${record.pod.namespace}/${ref.name}`
        : undefined;
    if (previous !== controller) {
      if (previous !== undefined) {
        const keys = this.podsByController.get(previous);
        if (keys !== undefined && keys.delete(key) && keys.size === 0) this.podsByController.delete(previous);
        this.controllerOfPod.delete(key);
      }
      if (controller !== undefined) {
        let keys = this.podsByController.get(controller);
        if (keys === undefined) this.podsByController.set(controller, (keys = new Set()));
        keys.add(key);
        this.controllerOfPod.set(key, controller);
      }
    }
    this.tracker.set(
      'pods',
      key,
      record === undefined ? undefined : resolveOwner(record, this.replicaSets.store, this.jobs.store),
    );
  }

  private reresolve(controller: string): void {
    const keys = this.podsByController.get(controller);
    const pods = this.pods;
    if (keys === undefined || pods === null) return;
    for (const key of keys) {
      const record = pods.store.get(key);
      if (record !== undefined) {
        this.tracker.set('pods', key, resolveOwner(record, this.replicaSets.store, this.jobs.store));
      }
    }
  }
}

/** True when `promise` settles within `ms` (a rejection, e.g. a stopped watch, counts as done). */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
