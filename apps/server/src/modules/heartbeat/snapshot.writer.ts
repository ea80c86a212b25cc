import type { Metrics } from '../../lib/metrics.js';
import type { Logger } from '../../logger.js';
import type { HeartbeatRepository, WriteItem } from './heartbeat.repository.js';

export type WriterOptions = {
  /** Flush once this many heartbeats wait. */
  maxBatchItems: number;
  /** Flush once this many snapshot bytes wait (1 MB documents add up quickly). */
  maxBatchBytes: number;
  /** Flush at the latest this long after the first heartbeat of a batch arrived. */
  maxDelayMs: number;
  /**
   * Commit without waiting for the delay once no other heartbeat is being applied (checked after
   * the I/O of the current event-loop turn): waiting longer could only gather heartbeats that have
   * not arrived yet. Under load many are applied at once, so batches still form; a lone heartbeat
   * is answered a few milliseconds sooner, and a closed-loop client no longer leaves the CPU idle.
   */
  commitWhenIdle?: boolean;
};

export const DEFAULT_WRITER_OPTIONS: WriterOptions = {
  maxBatchItems: 256,
  maxBatchBytes: 32 * 1024 * 1024,
  maxDelayMs: 4,
  commitWhenIdle: true,
};

type Pending = { item: WriteItem; resolve: (accepted: boolean) => void; reject: (err: unknown) => void };

/**
 * Group commit for heartbeats: collects their writes and commits them in one transaction every
 * few milliseconds or every N items. Each heartbeat's reply waits for the commit of its batch,
 * so an acknowledged heartbeat is stored; one transaction per batch instead of per heartbeat is
 * what lets one SQLite file keep up with a large fleet.
 */
export class SnapshotWriter {
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private idleCheck: NodeJS.Immediate | null = null;

  /** `busy` tells whether a heartbeat is still being applied (and may join the batch). */
  constructor(
    private readonly repo: HeartbeatRepository,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: WriterOptions = DEFAULT_WRITER_OPTIONS,
    private readonly busy: () => boolean = () => false,
  ) {}

  /** Queues a heartbeat's writes; resolves after commit with whether they applied (false: key no longer valid). */
  submit(item: WriteItem): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.queuedBytes += item.snapshot?.doc.length ?? 0;
      if (this.queue.length >= this.options.maxBatchItems || this.queuedBytes >= this.options.maxBatchBytes) {
        this.start();
      } else {
        this.timer ??= setTimeout(() => {
          this.timer = null;
          this.start();
        }, this.options.maxDelayMs);
        if (this.options.commitWhenIdle === true) this.idleCheck ??= setImmediate(() => this.startIfIdle());
      }
    });
  }

  /** Called when a heartbeat stops being applied without submitting (it failed). */
  settled(): void {
    if (this.options.commitWhenIdle === true && this.queue.length > 0) {
      this.idleCheck ??= setImmediate(() => this.startIfIdle());
    }
  }

  private startIfIdle(): void {
    this.idleCheck = null;
    if (!this.busy()) this.start();
  }

  /** Writes everything queued and waits for it (shutdown). */
  async flush(): Promise<void> {
    this.start();
    while (this.flushing !== null) await this.flushing;
  }

  private start(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.flushing !== null || this.queue.length === 0) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = null;
    });
  }

  /** Commits batches until the queue is empty; heartbeats arriving meanwhile form the next batch. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.takeBatch();
      const stop = this.metrics.snapshotFlush.startTimer();
      try {
        const accepted = await this.repo.writeBatch(batch.map((p) => p.item));
        stop();
        for (const p of batch) p.resolve(accepted.has(p.item.clusterId));
      } catch (err) {
        stop();
        this.logger.error({ err, heartbeats: batch.length }, 'writing a batch of heartbeats failed');
        for (const p of batch) p.reject(err);
      }
    }
  }

  private takeBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && n < this.options.maxBatchItems) {
      const size = this.queue[n]?.item.snapshot?.doc.length ?? 0;
      if (n > 0 && bytes + size > this.options.maxBatchBytes) break;
      bytes += size;
      n++;
    }
    const batch = this.queue.splice(0, n);
    this.queuedBytes -= bytes;
    return batch;
  }
}
