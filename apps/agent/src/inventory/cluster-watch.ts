import type { KubeEvent, PolicyObject, Workload } from '@niro/protocol';
import type { LogFn, Logger } from '../logger.js';
import { KubeApiError } from '../kube/kube-errors.js';
import { Reflector, type ReflectorOptions } from '../kube/reflector.js';
import type { KubeApi } from '../kube/types.js';
import {
  resolveOwner,
  toEventRecord,
  toNode,
  toOwnerLink,
  toPodRecord,
  toPolicyObject,
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

/** The objects policy rules read beside workloads (protocol `POLICY_OBJECT_KINDS`). */
export const POLICY_OBJECT_RESOURCES: { kind: PolicyObject['kind']; path: string }[] = [
  { kind: 'Service', path: '/api/v1/services' },
  { kind: 'PodDisruptionBudget', path: '/apis/policy/v1/poddisruptionbudgets' },
  { kind: 'HorizontalPodAutoscaler', path: '/apis/autoscaling/v2/horizontalpodautoscalers' },
  { kind: 'NetworkPolicy', path: '/apis/networking.k8s.io/v1/networkpolicies' },
  { kind: 'ServiceAccount', path: '/api/v1/serviceaccounts' },
];

/**
 * 403 (the RBAC of an install older than policy objects) or 404 (an API server that does not serve
 * the group version): states that last until someone changes the cluster, unlike a network error.
 */
export function unavailableStatus(err: unknown): 403 | 404 | undefined {
  if (!(err instanceof KubeApiError)) return undefined;
  return err.status === 403 ? 403 : err.status === 404 ? 404 : undefined;
}

export type ClusterWatchOptions = {
  /** Retry delays of the policy object watches (tests); the reflector's default otherwise. */
  objectsBackoff?: ReflectorOptions<unknown>['backoff'];
};

/**
 * Watches the cluster (list once, then watch) and keeps the inventory tracker current, so a
 * heartbeat never lists anything. Pods are watched only while the `pods` capability is on.
 *
 * Policy objects are all or nothing. The protocol reads a full inventory without `objects` as "this
 * agent does not report them" (the server then runs only the rules that need no second object),
 * while a list without, say, the NetworkPolicies would make every workload look unprotected. So
 * `objects` is reported only while each of the five kinds has been listed and none is refused
 * (403) or unknown (404). A refused kind logs one warning for all of them (the reflectors' own
 * warnings for it are demoted to debug); its reflector keeps retrying slowly (403: every 30 s), so
 * re-applying the install manifest turns objects on without a restart, with a full inventory.
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
  private readonly objects: Reflector<PolicyObject>[];
  /** Paths of policy object collections answering 403 or 404, with that status. */
  private readonly objectsUnavailable = new Map<string, 403 | 404>();
  private readonly objectWaiters = new Set<() => void>();
  /** Until start() has tried every kind, so that one warning names every missing kind. */
  private objectsStarted = false;
  private objectsWarned = false;

  constructor(
    private readonly api: KubeApi,
    private readonly logger: Logger,
    options: ClusterWatchOptions = {},
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

    const objectsApi = observeRefusals(api, (path, status) => this.objectsAnswered(path, status));
    const objectsLogger = demoteWarnings(logger, (path) => this.objectsUnavailable.has(path));
    this.objects = POLICY_OBJECT_RESOURCES.map(({ kind, path }) => {
      const reflector = new Reflector({
        api: objectsApi,
        logger: objectsLogger,
        pageSize: PAGE_SIZE,
        path,
        convert: (raw) => toPolicyObject(kind, raw),
        onChange: (key, o) => this.tracker.set('objects', key, o),
        ...(options.objectsBackoff === undefined ? {} : { backoff: options.objectsBackoff }),
      });
      reflector.synced().then(
        () => this.objectsAnswered(path, undefined),
        () => undefined,
      );
      return reflector;
    });
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
    for (const r of this.objects) {
      r.start();
      await withTimeout(this.objectSettled(r), perWatchTimeoutMs);
    }
    this.objectsStarted = true;
    this.updateObjectsIncluded();
  }

  async stop(): Promise<void> {
    const all = [...this.always, ...this.objects, ...(this.pods === null ? [] : [this.pods])];
    await Promise.all(all.map((r) => r.stop()));
    this.pods = null;
  }

  /** Kinds of policy objects the agent may not list (403) or the API server does not serve (404). */
  unavailableObjects(): { path: string; status: 403 | 404 }[] {
    return POLICY_OBJECT_RESOURCES.flatMap(({ path }) => {
      const status = this.objectsUnavailable.get(path);
      return status === undefined ? [] : [{ path, status }];
    });
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

  /**
   * Waits until every running watch has its first complete list, or the time is up. A policy
   * object kind that is refused or not served counts as done: waiting would not change that.
   */
  async waitForSync(timeoutMs: number): Promise<boolean> {
    const all = [...this.always, ...(this.pods === null ? [] : [this.pods])];
    const settled = [...all.map((r) => r.synced()), ...this.objects.map((r) => this.objectSettled(r))];
    return withTimeout(Promise.all(settled), timeoutMs);
  }

  /**
   * Errors of the watches that are failing right now (e.g. 403 after RBAC was revoked); policy
   * object kinds that are refused or not served are told apart by `unavailableObjects()`.
   */
  failingWatches(): string[] {
    const objects = this.objects.filter((r) => !this.objectsUnavailable.has(r.path));
    const all = [...this.always, ...objects, ...(this.pods === null ? [] : [this.pods])];
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

  /** Resolves once the object watch has listed or is refused (403/404); never rejects. */
  private objectSettled(r: Reflector<PolicyObject>): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!r.hasSynced() && !this.objectsUnavailable.has(r.path)) return;
        this.objectWaiters.delete(check);
        resolve();
      };
      this.objectWaiters.add(check);
      r.synced().then(check, () => {
        this.objectWaiters.delete(check);
        resolve();
      });
      check();
    });
  }

  /** A list or watch of a policy object kind answered: `status` 403/404, or undefined when it listed. */
  private objectsAnswered(path: string, status: 403 | 404 | undefined): void {
    if (status === undefined) this.objectsUnavailable.delete(path);
    else this.objectsUnavailable.set(path, status);
    for (const check of [...this.objectWaiters]) check();
    this.updateObjectsIncluded();
  }

  private updateObjectsIncluded(): void {
    if (!this.objectsStarted) return;
    const included = this.objectsUnavailable.size === 0 && this.objects.every((r) => r.hasSynced());
    this.tracker.setObjectsIncluded(included);
    if (this.objectsUnavailable.size > 0 && !this.objectsWarned) {
      this.objectsWarned = true;
      const unavailable = this.unavailableObjects();
      this.logger.warn(
        {
          forbidden: unavailable.filter((u) => u.status === 403).map((u) => u.path),
          notServed: unavailable.filter((u) => u.status === 404).map((u) => u.path),
        },
        'policy objects (Services, PodDisruptionBudgets, HorizontalPodAutoscalers, NetworkPolicies, ' +
          'ServiceAccounts) are not reported: the agent may not read them all (re-apply the install manifest ' +
          'to grant it) or the API server does not serve them; the rules that need them stay off for this cluster',
      );
    } else if (included && this.objectsWarned) {
      this.objectsWarned = false;
      this.logger.info('policy objects are reported again');
    }
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

/** The API with a report of every 403/404 answer and of every list that worked, per collection path. */
function observeRefusals(api: KubeApi, answered: (path: string, status: 403 | 404 | undefined) => void): KubeApi {
  const refused = (path: string, err: unknown): void => {
    const status = unavailableStatus(err);
    if (status !== undefined) answered(path, status);
  };
  return {
    server: api.server,
    request: (method, path, options) => api.request(method, path, options),
    list: async (path, options) => {
      try {
        const result = await api.list(path, options);
        answered(path, undefined);
        return result;
      } catch (err) {
        refused(path, err);
        throw err;
      }
    },
    watch: async (path, options, onEvent) => {
      try {
        await api.watch(path, options, onEvent);
      } catch (err) {
        refused(path, err);
        throw err;
      }
    },
    stream: (path, options) => api.stream(path, options),
    close: () => api.close(),
  };
}

/**
 * A logger whose warnings go out at debug while `demote(resource)` holds for the line's `resource`
 * binding (set by each reflector): ClusterWatch reports refused policy objects in one line itself.
 */
function demoteWarnings(
  logger: Logger,
  demote: (resource: string) => boolean,
  resource: string | undefined = undefined,
): Logger {
  const warn: LogFn = (first: Record<string, unknown> | string, msg?: string): void => {
    const to = resource !== undefined && demote(resource) ? logger.debug : logger.warn;
    if (typeof first === 'string') to(first);
    else to(first, msg);
  };
  return {
    level: logger.level,
    trace: logger.trace,
    debug: logger.debug,
    info: logger.info,
    warn,
    error: logger.error,
    fatal: logger.fatal,
    child: (bindings) =>
      demoteWarnings(
        logger.child(bindings),
        demote,
        typeof bindings.resource === 'string' ? bindings.resource : resource,
      ),
  };
}
