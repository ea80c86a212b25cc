import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { HeartbeatListener, HeartbeatObservation } from '../heartbeat/heartbeat.service.js';
import type { IncidentsService } from '../incidents/incidents.service.js';
import type { DeploymentsRepository, WatchedRollout } from './deployments.repository.js';
import type { InventoryReader } from './inventory-reader.js';
import { parseGenerations, rolloutProgress, stallSummary } from './rollout.js';

/** How long the list of watched rollouts is trusted before it is read again (other replicas start rollouts too). */
const RELOAD_MS = 10_000;

/**
 * Follows the rollouts of applied revisions on the heartbeats of their clusters: a rollout whose
 * workloads all become ready is `ready` (and resolves deployment_failed); one not ready by its
 * progress deadline is `stalled` and opens deployment_failed with the pods that hold it up. A
 * stalled rollout that becomes ready later still resolves.
 */
export class RolloutWatch implements HeartbeatListener {
  private watched = new Map<string, WatchedRollout[]>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | null = null;
  /** The revision each rollout was last looked at for, so unchanged heartbeats can skip it. */
  private readonly seen = new Map<string, number>();
  /** Counts invalidations, so a read that started before one does not count as fresh. */
  private generation = 0;

  constructor(
    private readonly deps: {
      repo: DeploymentsRepository;
      inventory: InventoryReader;
      incidents: IncidentsService;
      clock: Clock;
      logger: Logger;
    },
  ) {}

  /** Reads the watched rollouts again before the next heartbeat is looked at. */
  invalidate(): void {
    this.loadedAt = Number.NEGATIVE_INFINITY;
    this.generation++;
  }

  async heartbeatApplied(observation: HeartbeatObservation): Promise<void> {
    await this.reloadIfStale();
    const rollouts = this.watched.get(observation.clusterId);
    if (rollouts === undefined || rollouts.length === 0) return;
    const now = this.deps.clock.now();
    // A heartbeat that changed nothing cannot make a rollout ready that was not, once it has been
    // looked at; only a deadline passing matters then.
    const due =
      observation.inventory.mode !== 'same'
        ? rollouts
        : rollouts.filter((r) => this.seen.get(r.id) !== r.rollout_revision || pastDeadline(r, now));
    if (due.length > 0) await this.check(observation.clusterId, due);
  }

  /** Checks rollouts of one cluster against its inventory now. */
  async check(clusterId: string, rollouts: readonly WatchedRollout[]): Promise<void> {
    const now = this.deps.clock.now();
    for (const rollout of rollouts) {
      if (rollout.rollout_revision === null) continue;
      this.seen.set(rollout.id, rollout.rollout_revision);
      const expected = parseGenerations(rollout.rollout_generations);
      const stalling = pastDeadline(rollout, now);
      // Pods only for the evidence of a stall: readiness needs the workloads alone.
      const inventory = await this.deps.inventory.read(clusterId, {
        namespace: rollout.namespace,
        workloads: expected,
        withPods: stalling,
      });
      const progress = rolloutProgress(rollout.namespace, expected, inventory.workloads, inventory.pods);
      if (progress.ready) {
        const done = await this.deps.repo.update(
          rollout.id,
          { rollout_state: 'ready', rollout_ready_at: now },
          { rollout_revision: rollout.rollout_revision },
        );
        if (done) {
          this.deps.logger.info({ deploymentId: rollout.id, revision: rollout.rollout_revision }, 'rollout ready');
          await this.deps.incidents.deploymentRecovered(clusterId, rollout.id);
        }
        this.forget(clusterId, rollout.id);
        continue;
      }
      if (stalling) {
        const done = await this.deps.repo.update(
          rollout.id,
          { rollout_state: 'stalled' },
          { rollout_revision: rollout.rollout_revision },
        );
        if (!done) continue;
        rollout.rollout_state = 'stalled';
        const summary = stallSummary(progress);
        this.deps.logger.warn({ deploymentId: rollout.id, revision: rollout.rollout_revision }, 'rollout stalled');
        await this.deps.incidents.open({
          clusterId,
          type: 'deployment_failed',
          scope: rollout.id,
          title: `Rollout of ${rollout.name} (revision ${rollout.rollout_revision}) is not ready after its progress deadline: ${summary}`,
          details: {
            deploymentId: rollout.id,
            name: rollout.name,
            namespace: rollout.namespace,
            revision: rollout.rollout_revision,
            reason: 'rollout_stalled',
          },
          evidence: {
            workloads: progress.workloads,
            pods: progress.pods.filter((p) => !p.ready).slice(0, 20),
          },
        });
      }
    }
  }

  private forget(clusterId: string, id: string): void {
    this.seen.delete(id);
    const list = this.watched.get(clusterId);
    if (list !== undefined)
      this.watched.set(
        clusterId,
        list.filter((r) => r.id !== id),
      );
  }

  private async reloadIfStale(): Promise<void> {
    if (performance.now() - this.loadedAt < RELOAD_MS) return;
    this.loading ??= (async () => {
      const startedAt = performance.now();
      const generation = this.generation;
      try {
        const rows = await this.deps.repo.watchedRollouts();
        const next = new Map<string, WatchedRollout[]>();
        for (const row of rows) next.set(row.cluster_id, [...(next.get(row.cluster_id) ?? []), row]);
        this.watched = next;
        const ids = new Set(rows.map((r) => r.id));
        for (const id of this.seen.keys()) if (!ids.has(id)) this.seen.delete(id);
        if (generation === this.generation) this.loadedAt = startedAt;
      } catch (err) {
        this.deps.logger.warn({ err }, 'could not read the rollouts under way');
      } finally {
        this.loading = null;
      }
    })();
    await this.loading;
  }
}

/** A rollout still progressing when its deadline has passed: it is to be marked stalled. */
function pastDeadline(rollout: WatchedRollout, now: number): boolean {
  return (
    rollout.rollout_state === 'progressing' &&
    rollout.rollout_deadline_at !== null &&
    now >= rollout.rollout_deadline_at
  );
}
